"""The ArcSight CEF extension dictionary, and where each key lives in the Event model.

One table serves both directions: the ``cef`` decoder fills the model from the keys
that have a home, and the ``cef`` sink's ``extensions:`` option is checked against
the dictionary (a misspelt key would otherwise be silently ignored by ArcSight).
Keys are from the "ArcSight Common Event Format (CEF) Implementation Standard",
"CEF Key Names For Event Producers" and the custom-field tables.
"""

from __future__ import annotations

__all__ = ["CEF_KEYS", "CEF_HOMES", "CUSTOM_KEYS", "is_cef_key"]

#: Every key of the CEF dictionary (standard and custom fields, without the numbered labels).
CEF_KEYS: frozenset[str] = frozenset("""
act app c6a1 c6a1Label c6a3 c6a3Label c6a4 c6a4Label cat cfp1 cfp1Label cfp2 cfp2Label cfp3 cfp3Label
cfp4 cfp4Label cn1 cn1Label cn2 cn2Label cn3 cn3Label cnt cs1 cs1Label cs2 cs2Label cs3 cs3Label cs4
cs4Label cs5 cs5Label cs6 cs6Label destinationDnsDomain destinationServiceName
destinationTranslatedAddress destinationTranslatedPort deviceCustomDate1 deviceCustomDate1Label
deviceCustomDate2 deviceCustomDate2Label deviceDirection deviceDnsDomain deviceExternalId
deviceFacility deviceInboundInterface deviceNtDomain deviceOutboundInterface devicePayloadId
deviceProcessName deviceTranslatedAddress dhost dmac dntdom dpid dpriv dproc dpt dst dtz duid duser
dvc dvchost dvcmac dvcpid end externalId fileCreateTime fileHash fileId fileModificationTime
filePath filePermission fileType flexDate1 flexDate1Label flexString1 flexString1Label flexString2
flexString2Label fname fsize in msg oldFileCreateTime oldFileHash oldFileId oldFileModificationTime
oldFileName oldFilePath oldFilePermission oldFileSize oldFileType out outcome proto reason request
requestClientApplication requestContext requestCookies requestMethod rt shost smac sntdom
sourceDnsDomain sourceServiceName sourceTranslatedAddress sourceTranslatedPort spid spriv sproc spt
src start suid suser type agentDnsDomain agentNtDomain agentTranslatedAddress
agentTranslatedZoneExternalID agentTranslatedZoneURI agentZoneExternalID agentZoneURI agt ahost aid
amac art at atz av cat customerExternalID customerURI destinationTranslatedZoneExternalID
destinationTranslatedZoneURI destinationZoneExternalID destinationZoneURI deviceTranslatedZoneExternalID
deviceTranslatedZoneURI deviceZoneExternalID deviceZoneURI dlat dlong eventId rawEvent slat slong
sourceTranslatedZoneExternalID sourceTranslatedZoneURI sourceZoneExternalID sourceZoneURI
""".split())

#: The numbered custom strings and their labels (``custom_strings:`` in the sink).
CUSTOM_KEYS: tuple[str, ...] = tuple(f"cs{n}" for n in range(1, 7))

#: CEF key → dotted Event path, for every key that has a home in the model.
CEF_HOMES: dict[str, str] = {
    "src": "network.src_ip", "spt": "network.src_port", "dst": "network.dst_ip", "dpt": "network.dst_port",
    "proto": "network.protocol", "deviceDirection": "network.direction",
    "suser": "actor.user", "sntdom": "actor.domain",
    "act": "action.original", "outcome": "outcome.original",
    "sproc": "process.name", "spid": "process.pid",
    "filePath": "file.path", "fileHash": "file.hash",
    "dvchost": "device.hostname", "dhost": "asset.host",
    "cat": "finding.category", "request": "finding.url", "msg": "description",
    "externalId": "finding.id",
}


def is_cef_key(key: str) -> bool:
    """True when ``key`` is in the CEF dictionary."""
    return key in CEF_KEYS
