/* Users list: the header checkbox ticks every user on the page (a convenience: without
   JavaScript it stays hidden and users are ticked one by one, or "all matching" is chosen). */
(function () {
  "use strict";
  function reveal() {
    document.querySelectorAll("input[data-select-page]").forEach(function (box) { box.hidden = false; });
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-select-page")) { return; }
    document.querySelectorAll('input[form="bulk-form"][name="user_ids"]').forEach(function (pick) {
      pick.checked = box.checked;
    });
  });
  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:afterSwap", reveal);
})();
