import Foundation
@testable import IavfScenarios
import Testing

@Suite struct LinkTableTests {
    /// An RTM_NEWLINK of a VLAN device as the kernel sends it: ifinfomsg, IFLA_IFNAME,
    /// IFLA_LINK, IFLA_LINKINFO { IFLA_INFO_KIND "vlan", IFLA_INFO_DATA { IFLA_VLAN_ID,
    /// IFLA_VLAN_PROTOCOL (big-endian) } }, then NLMSG_DONE.
    private func vlanDatagram(seq: UInt32, id: UInt16, proto: UInt16) -> [UInt8] {
        func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
        func attr(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
            var a = le16(UInt16(4 + payload.count)) + le16(type) + payload
            while a.count % 4 != 0 { a.append(0) }
            return a
        }
        let data = attr(1, le16(id)) + attr(5, [UInt8(proto >> 8), UInt8(proto & 0xff)])
        let info = attr(1, Array("vlan".utf8) + [0]) + attr(2 | 0x8000, data)
        let attrs = attr(3, Array("eth0.100".utf8) + [0]) + attr(5, le32(4)) + attr(18 | 0x8000, info)
        let ifinfo: [UInt8] = [0, 0] + le16(1) + le32(7) + le32(0x11043) + le32(0)
        let body = ifinfo + attrs
        let msg = le32(UInt32(16 + body.count)) + le16(16) + le16(2) + le32(seq) + le32(0) + body
        let done = le32(20) + le16(3) + le16(2) + le32(seq) + le32(0) + le32(0)
        return msg + done
    }

    @Test("a dumped VLAN device: name, index, flags, parent, kind, id and protocol; the dump ends at NLMSG_DONE")
    func parsesVlan() throws {
        let b = vlanDatagram(seq: 9, id: 100, proto: 0x8100)
        var out: [Link] = []
        #expect(try LinkTable.parse(b, count: b.count, seq: 9, into: &out))
        #expect(out == [Link(index: 7, name: "eth0.100", flags: 0x11043, parent: 4, kind: "vlan", vlanID: 100, vlanProtocol: 0x8100)])
        #expect(out[0].isLowerUp)
    }

    @Test("messages of another request are skipped; a truncated message is an error, not a short list")
    func otherSeqAndTruncation() throws {
        let b = vlanDatagram(seq: 9, id: 100, proto: 0x88a8)
        var out: [Link] = []
        #expect(try !LinkTable.parse(Array(b.prefix(b.count - 20)), count: b.count - 20, seq: 8, into: &out))
        #expect(out.isEmpty)
        #expect(throws: LinkTable.Failure.self) { try LinkTable.parse(Array(b.prefix(40)), count: 40, seq: 9, into: &out) }
    }

    @Test("the real kernel (host, root): a new namespace's lo is down, then LOWER_UP once ip sets it up")
    func realNamespace() throws {
        guard getuid() == 0 else { Issue.record("needs root to make a namespace"); return }
        let ns = "lt-\(getpid())"
        #expect(Shell.run(["ip", "netns", "add", ns]).ok)
        defer { _ = Shell.run(["ip", "netns", "del", ns]) }
        let t = try LinkTable(namespace: ns)
        let before = try t.links()
        #expect(before.map(\.name) == ["lo"])
        #expect(before.first?.isLowerUp == false)
        #expect(Shell.run(["ip", "-n", ns, "link", "set", "lo", "up"]).ok)
        #expect(try t.link(named: "lo")?.isLowerUp == true)
        // This thread never left its own namespace: its lo is not the new one's.
        let mine = try LinkTable(namespace: nil).links()
        #expect(mine.contains { $0.name == "lo" })
        #expect(try t.vlans(on: "lo").isEmpty)
    }

    @Test("a request's bytes: header with length, flags (request, ack, create|excl) and seq; nested attributes padded to 4")
    func messageBytes() {
        var m = NetlinkMessage(type: 16, flags: NetlinkMessage.create | NetlinkMessage.exclusive, fixed: 16)
        m.attr(3, string: "eth0.7")
        m.nest(18) { info in
            info.attr(1, string: "vlan")
            info.nest(2) { $0.attr(1, u16: 7) }
        }
        let b = m.bytes(seq: 0x01020304)
        let expected: [UInt8] = [72, 0, 0, 0, 16, 0, 0x05, 0x06, 4, 3, 2, 1, 0, 0, 0, 0]   // nlmsghdr
            + [UInt8](repeating: 0, count: 16)                                             // ifinfomsg
            + [11, 0, 3, 0] + Array("eth0.7".utf8) + [0, 0]                                // IFLA_IFNAME, padded
            + [28, 0, 18, 0x80] + [9, 0, 1, 0] + Array("vlan".utf8) + [0, 0, 0, 0]        // IFLA_LINKINFO { KIND
            + [12, 0, 2, 0x80] + [6, 0, 1, 0, 7, 0, 0, 0]                                  //   DATA { VLAN_ID 7 } }
        #expect(b == expected)
        #expect(NetlinkMessage(type: 18, fixed: 16, dump: true).bytes(seq: 1)[6] == 0x01 && NetlinkMessage(type: 18, fixed: 16, dump: true).bytes(seq: 1)[7] == 0x03,
                "a dump is NLM_F_REQUEST | NLM_F_DUMP, without an ack")
    }

    @Test("the real kernel (host, root): link up and down, an address replaced, a link deleted, and refusals in ip's words")
    func realChanges() throws {
        guard getuid() == 0 else { Issue.record("needs root to make a namespace"); return }
        let ns = "lc-\(getpid())"
        #expect(Shell.run(["ip", "netns", "add", ns]).ok)
        defer { _ = Shell.run(["ip", "netns", "del", ns]) }
        // The host kernel has veth but no 8021q: the pair is made with ip, the VLAN refused.
        #expect(Shell.run(["ip", "-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"]).ok)
        let t = try LinkTable(namespace: ns)
        try t.setLink("v0", up: true)
        #expect((try t.link(named: "v0")?.flags ?? 0) & 1 == 1, "IFF_UP after setLink up")
        try t.setLink("v0", up: false)
        #expect((try t.link(named: "v0")?.flags ?? 1) & 1 == 0, "IFF_UP gone after setLink down")
        try t.replaceAddress("10.9.8.7", prefix: 24, on: "v0")
        try t.replaceAddress("10.9.8.7", prefix: 24, on: "v0")     // replace: no "File exists"
        #expect(Shell.run(["ip", "-n", ns, "-o", "addr", "show", "dev", "v0"]).output.contains("10.9.8.7/24"))
        // The same refusal as ip's, word for word.
        let ipSays = Shell.run(["ip", "-n", ns, "link", "add", "link", "v0", "name", "v0.5", "type", "vlan", "id", "5"])
        #expect(!ipSays.ok)
        #expect { try t.addVlan(parent: "v0", name: "v0.5", id: 5) } throws: { error in
            "\(error)" == ipSays.output.trimmingCharacters(in: .whitespacesAndNewlines) && (error as? LinkTable.Failure)?.code != nil
        }
        #expect { try t.addVlan(parent: "nope", name: "nope.5", id: 5) } throws: { "\($0)".contains("Cannot find device \"nope\"") }
        try t.deleteLink("v0")
        #expect(try t.link(named: "v0") == nil && t.link(named: "v1") == nil, "a veth goes with its peer")
        #expect { try t.deleteLink("v0") } throws: { ($0 as? LinkTable.Failure)?.code == ENODEV }
    }

    @Test("a namespace that does not exist: one clear error naming the path")
    func missingNamespace() {
        #expect { try LinkTable(namespace: "no-such-ns-\(getpid())") } throws: { error in
            "\(error)".contains("/run/netns/no-such-ns") || "\(error)".contains("/var/run/netns/no-such-ns")
        }
    }
}
