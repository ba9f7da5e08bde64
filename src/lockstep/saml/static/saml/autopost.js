// Posts the SAML response to Microsoft 365 as soon as the page loads (the CSP forbids inline scripts).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("saml-autopost");
  if (form) { form.submit(); }
});
