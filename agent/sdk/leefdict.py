"""QRadar's predefined LEEF event attributes: the keys a ``leef_keys:`` mapping may use.

QRadar's LEEF parser files these keys into its normalised event fields without a custom
property (IBM "Log Event Extended Format (LEEF)", "Predefined LEEF event attributes").
A misspelt key is not an error in QRadar: it silently becomes an unparsed custom
attribute, so the ``cef`` sink refuses it in ``validate`` instead.
"""

from __future__ import annotations

__all__ = ["LEEF_KEYS", "LEEF_COMPUTED_KEYS", "LEEF_CUSTOM_KEY"]

#: QRadar's predefined LEEF event attributes.
LEEF_KEYS: frozenset[str] = frozenset("""
cat devTime devTimeFormat proto sev src dst srcPort dstPort srcPreNAT dstPreNAT srcPostNAT dstPostNAT
usrName srcMAC dstMAC srcPreNATPort dstPreNATPort srcPostNATPort dstPostNATPort identSrc identHostName
identNetBios identGrpName identMAC vSrc vSrcName accountName srcBytes dstBytes srcPackets dstPackets
totalPackets role realm policy resource url groupID domain isLoginEvent isLogoutEvent identSecondlp
calLanguage AccountName calCountryOrRegion
""".split())

#: Keys the encoder always computes (``sev`` 1-10 from the score, ``devTime`` with its format).
LEEF_COMPUTED_KEYS: frozenset[str] = frozenset({"sev", "devTime", "devTimeFormat"})

#: What a custom attribute name may look like: a letter, then letters, digits, ``_``, ``-``, ``.``
#: (no ``=``, tab or ``|``, which would break the record).
LEEF_CUSTOM_KEY = r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$"
