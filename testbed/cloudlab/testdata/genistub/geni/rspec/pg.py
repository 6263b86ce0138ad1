"""Stand-in for geni.rspec.pg: nodes, interfaces, links, services."""


class Execute(object):
    def __init__(self, shell, command):
        self.shell = shell
        self.command = command


class Interface(object):
    def __init__(self, node, name):
        self.node = node
        self.client_id = "%s:%s" % (node.client_id, name)


class RawPC(object):
    def __init__(self, client_id):
        self.client_id = client_id
        self.hardware_type = None
        self.disk_image = None
        self.interfaces = []
        self.services = []

    def addInterface(self, name):
        iface = Interface(self, name)
        self.interfaces.append(iface)
        return iface

    def addService(self, svc):
        self.services.append(svc)


class Link(object):
    def __init__(self, client_id):
        self.client_id = client_id
        self.interfaces = []
        self.bandwidth = None

    def addInterface(self, iface):
        self.interfaces.append(iface)


class Request(object):
    def __init__(self):
        self.nodes = []
        self.links = []

    def RawPC(self, name):
        n = RawPC(name)
        self.nodes.append(n)
        return n

    def Link(self, name):
        l = Link(name)
        self.links.append(l)
        return l
