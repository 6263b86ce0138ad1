"""Stand-in for geni.portal: parameters (defaults, or JSON in
$GENI_PARAMS), errors, and a Context that prints the request as JSON."""
import json
import os
import sys

from geni.rspec import pg


class ParameterType(object):
    INTEGER = "integer"
    STRING = "string"
    BOOLEAN = "boolean"
    IMAGE = "image"
    AGGREGATE = "aggregate"
    NODETYPE = "nodetype"
    BANDWIDTH = "bandwidth"
    LATENCY = "latency"
    SIZE = "size"
    PUBKEY = "pubkey"


class ParameterError(Exception):
    def __init__(self, msg, params):
        Exception.__init__(self, msg)
        self.params = params


class _Params(object):
    pass


class Context(object):
    def __init__(self):
        self._defs = {}
        self._errors = []

    def defineParameter(self, name, description, typ, defaultValue,
                        legalValues=None, longDescription=None, advanced=False, **kw):
        if name in self._defs:
            raise Exception("parameter %s defined twice" % name)
        self._defs[name] = (typ, defaultValue)

    def bindParameters(self):
        given = json.loads(os.environ.get("GENI_PARAMS", "{}"))
        p = _Params()
        for name, (typ, default) in self._defs.items():
            setattr(p, name, given.get(name, default))
        for name in given:
            if name not in self._defs:
                raise Exception("unknown parameter %s" % name)
        return p

    def reportError(self, err):
        self._errors.append({"msg": str(err), "params": err.params})

    def verifyParameters(self):
        if self._errors:
            json.dump({"errors": self._errors}, sys.stdout)
            sys.exit(1)

    def makeRequestRSpec(self):
        self._request = pg.Request()
        return self._request

    def printRequestRSpec(self, request=None):
        r = request or self._request
        out = {
            "nodes": [{"client_id": n.client_id, "hardware_type": n.hardware_type,
                       "disk_image": n.disk_image,
                       "interfaces": [i.client_id for i in n.interfaces],
                       "services": [s.command for s in n.services]} for n in r.nodes],
            "links": [{"client_id": l.client_id, "bandwidth": l.bandwidth,
                       "interfaces": [i.client_id for i in l.interfaces]} for l in r.links],
        }
        json.dump(out, sys.stdout)
