"""ISO 3166-1 alpha-2 country codes: the values Microsoft Graph accepts for a user's `usageLocation`.

The 249 officially assigned codes of ISO 3166-1 (source: the ISO 3166 Maintenance Agency's
Online Browsing Platform, www.iso.org/obp, "officially assigned" alpha-2 codes; unchanged since
South Sudan, SS, was added in 2011). Graph documents `usageLocation` as "a two-letter country code
(ISO standard 3166)"; whether Microsoft also refuses a few assigned codes where it sells no
service (AQ, BV, HM ...) or accepts user-assigned ones such as XK is not documented: m365sim
accepts exactly this list. A small table rather than a dependency (pycountry ships every
ISO 3166/639/4217 table with translations, megabytes for 249 codes). graph-facts §12.3.
"""

from __future__ import annotations

_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW
"""

ISO_3166_ALPHA2: frozenset[str] = frozenset(_CODES.split())
