import CIavfNetns
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The links of a network namespace as rtnetlink dumps them (what `ip -d link show` prints):
/// the suite's waits ask "is VF1 LOWER_UP?" and "which VLAN devices sit on VF1?" many times a
/// case, and each `ip` process costs about a tenth of a second in a TCG guest.
public struct Link: Sendable, Equatable {
    public var index: Int32
    public var name: String
    /// `IFF_*` flags (`ifi_flags`).
    public var flags: UInt32
    /// `IFLA_LINK`: the lower device's index (a VLAN's parent).
    public var parent: Int32?
    /// `IFLA_INFO_KIND`: "vlan", "dummy", ...; nil for a device without one (iavf).
    public var kind: String?
    public var vlanID: UInt16?
    /// `IFLA_VLAN_PROTOCOL` in host order: 0x8100 (802.1Q) or 0x88a8 (802.1ad).
    public var vlanProtocol: UInt16?

    public static let lowerUp: UInt32 = 0x10000
    public var isLowerUp: Bool { flags & Self.lowerUp != 0 }
}

/// An rtnetlink socket opened inside a named namespace (`/run/netns/NAME`, as `ip netns add`
/// makes it). The namespace is entered on a thread of its own, which ends right after: the
/// socket stays in the namespace, no thread of the caller's ever leaves its own.
///
/// It reads the links and makes the changes the suite's cases make (`ip link add ... type
/// vlan`, `ip link del`, `ip link set up|down`, `ip addr replace`) as the same single
/// requests `ip` sends: the kernel and the driver see the same calls, without a process start
/// (a tenth of a second under TCG) between two of them.
public final class LinkTable: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        /// The kernel's errno, for a request it refused.
        public var code: Int32?

        init(description: String, code: Int32? = nil) {
            self.description = description
            self.code = code
        }

        /// What `ip` prints for a refusal: the kernel's extended-ack message when it gave one,
        /// else "RTNETLINK answers: <strerror>".
        static func refused(_ code: Int32, message: String?) -> Failure {
            Failure(description: message.map { "Error: \($0)." } ?? "RTNETLINK answers: \(String(cString: strerror(code)))", code: code)
        }
    }

    public let namespace: String?
    private let fd: Int32
    private var seq: UInt32 = 0
    private let lock = NSLock()
    private var buffer = [UInt8](repeating: 0, count: 65536)

    /// `namespace` nil: the caller's own.
    public init(namespace: String?) throws {
        self.namespace = namespace
        guard let ns = namespace else {
            fd = try Self.socket()
            return
        }
        let path = Self.path(ns)
        let nsfd = open(path, O_RDONLY | O_CLOEXEC)
        guard nsfd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(nsfd) }
        // Written by the thread before it signals, read here after the wait.
        final class Outcome: @unchecked Sendable { var value: Result<Int32, Failure> = .failure(Failure(description: "no thread")) }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            defer { done.signal() }
            guard iavfshim_setns(nsfd, Self.cloneNewNet) == 0 else {
                outcome.value = .failure(Failure(description: "cannot enter \(path): \(String(cString: strerror(errno)))"))
                return
            }
            outcome.value = Result { try Self.socket() }.mapError { $0 as? Failure ?? Failure(description: "\($0)") }
        }
        t.start()
        done.wait()
        fd = try outcome.value.get()
    }

    deinit { close(fd) }

    /// `CLONE_NEWNET` (<sched.h> declares it for _GNU_SOURCE only, out of Glibc's reach).
    static let cloneNewNet: Int32 = 0x4000_0000

    static func path(_ ns: String) -> String {
        FileManager.default.fileExists(atPath: "/run/netns/\(ns)") ? "/run/netns/\(ns)" : "/var/run/netns/\(ns)"
    }

    private static func socket() throws -> Int32 {
        let s = Glibc.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard s >= 0 else { throw Failure(description: "cannot open a netlink socket: \(String(cString: strerror(errno)))") }
        // As `ip` does: refusals carry the kernel's message (NETLINK_EXT_ACK) and echo only
        // the request's header (NETLINK_CAP_ACK). Older kernels ignore them.
        var one: Int32 = 1
        _ = setsockopt(s, 270 /* SOL_NETLINK */, 11 /* NETLINK_EXT_ACK */, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(s, 270, 10 /* NETLINK_CAP_ACK */, &one, socklen_t(MemoryLayout<Int32>.size))
        return s
    }

    /// Sends `message` (its length and sequence number are filled in here) and reads until
    /// the kernel's answer to it: the dump's end, or the ack of a change (a refusal throws).
    private func exchange(_ message: NetlinkMessage, into out: inout [Link]) throws {
        seq &+= 1
        let req = message.bytes(seq: seq)
        // An unconnected netlink socket sends to the kernel (port 0).
        let sent = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == req.count else { throw Failure(description: "netlink send: \(String(cString: strerror(errno)))") }
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "netlink receive: \(n < 0 ? String(cString: strerror(errno)) : "end of stream")") }
            if try Self.parse(buffer, count: n, seq: seq, into: &out) { return }
        }
    }

    /// One change, answered by an ack.
    private func change(_ message: NetlinkMessage) throws {
        lock.lock()
        defer { lock.unlock() }
        var none: [Link] = []
        try exchange(message, into: &none)
    }

    private func index(of name: String) throws -> Int32 {
        guard let l = try link(named: name) else { throw Failure.refused(ENODEV, message: "Cannot find device \"\(name)\"") }
        return l.index
    }

    /// `ip link add link PARENT name NAME type vlan id ID` (802.1Q).
    public func addVlan(parent: String, name: String, id: UInt16) throws {
        let p = try index(of: parent)
        var m = NetlinkMessage(type: 16 /* RTM_NEWLINK */, flags: NetlinkMessage.create | NetlinkMessage.exclusive, fixed: 16)
        m.attr(3 /* IFLA_IFNAME */, string: name)
        m.attr(5 /* IFLA_LINK */, u32: UInt32(bitPattern: p))
        m.nest(18 /* IFLA_LINKINFO */) { info in
            info.attr(1 /* IFLA_INFO_KIND */, string: "vlan")
            info.nest(2 /* IFLA_INFO_DATA */) { $0.attr(1 /* IFLA_VLAN_ID */, u16: id) }
        }
        try change(m)
    }

    /// `ip link del NAME`.
    public func deleteLink(_ name: String) throws {
        var m = NetlinkMessage(type: 17 /* RTM_DELLINK */, fixed: 16)
        m.attr(3 /* IFLA_IFNAME */, string: name)
        try change(m)
    }

    /// `ip link set NAME up|down`.
    public func setLink(_ name: String, up: Bool) throws {
        var m = NetlinkMessage(type: 16 /* RTM_NEWLINK */, fixed: 16)
        let iffUp = UInt32(IFF_UP)
        m.put32(up ? iffUp : 0, at: 16 + 8)     // ifi_flags
        m.put32(iffUp, at: 16 + 12)             // ifi_change
        m.attr(3 /* IFLA_IFNAME */, string: name)
        try change(m)
    }

    /// `ip addr replace A.B.C.D/PREFIX dev NAME`.
    public func replaceAddress(_ address: String, prefix: UInt8, on name: String) throws {
        var a = in_addr()
        guard inet_pton(AF_INET, address, &a) == 1 else { throw Failure(description: "not an IPv4 address: \(address)") }
        let i = try index(of: name)
        var m = NetlinkMessage(type: 20 /* RTM_NEWADDR */, flags: NetlinkMessage.create | NetlinkMessage.replace, fixed: 8)
        m.put8(UInt8(AF_INET), at: 16)          // ifa_family
        m.put8(prefix, at: 17)                  // ifa_prefixlen
        m.put32(UInt32(bitPattern: i), at: 20)  // ifa_index
        let bytes = withUnsafeBytes(of: a.s_addr) { Array($0) }
        m.attr(2 /* IFA_LOCAL */, bytes)
        m.attr(1 /* IFA_ADDRESS */, bytes)
        try change(m)
    }

    /// Every link of the namespace (one RTM_GETLINK dump).
    public func links() throws -> [Link] {
        lock.lock()
        defer { lock.unlock() }
        // ifinfomsg, family AF_UNSPEC.
        var out: [Link] = []
        try exchange(NetlinkMessage(type: 18 /* RTM_GETLINK */, fixed: 16, dump: true), into: &out)
        return out
    }

    /// Parses one datagram of the dump; true at its end (NLMSG_DONE).
    static func parse(_ b: [UInt8], count: Int, seq: UInt32, into out: inout [Link]) throws -> Bool {
        func u16(_ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        func string(_ o: Int, _ n: Int) -> String {
            let bytes = b[o..<(o + n)].prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        /// (type, payload offset, payload length) of the attributes in [o, end).
        func attrs(_ o: Int, _ end: Int) -> [(UInt16, Int, Int)] {
            var r: [(UInt16, Int, Int)] = []
            var p = o
            while p + 4 <= end {
                let len = Int(u16(p))
                guard len >= 4, p + len <= end else { break }
                r.append((u16(p + 2) & 0x3fff, p + 4, len - 4))
                p += (len + 3) & ~3
            }
            return r
        }
        var o = 0
        while o + 16 <= count {
            let len = Int(u32(o)), type = u16(o + 4)
            guard len >= 16, o + len <= count else { throw Failure(description: "netlink: a truncated message") }
            guard u32(o + 8) == seq else { o += (len + 3) & ~3; continue }
            switch type {
            case 3: // NLMSG_DONE
                return true
            case 2: // NLMSG_ERROR: the errno, the request's header, then (NLM_F_ACK_TLVS) attributes
                let err = Int32(bitPattern: u32(o + 16))
                if err == 0 { return true }
                var message: String?
                if u16(o + 6) & 0x200 != 0, len >= 36 {
                    for (t, p, n) in attrs(o + 36, o + len) where t == 1 /* NLMSGERR_ATTR_MSG */ { message = string(p, n) }
                }
                throw Failure.refused(-err, message: message)
            case 16 where len >= 32: // RTM_NEWLINK
                var link = Link(index: Int32(bitPattern: u32(o + 20)), name: "", flags: u32(o + 24))
                for (t, p, n) in attrs(o + 32, o + len) {
                    switch t {
                    case 3: link.name = string(p, n)
                    case 5 where n >= 4: link.parent = Int32(bitPattern: u32(p))
                    case 18:
                        for (it, ip, iN) in attrs(p, p + n) {
                            if it == 1 { link.kind = string(ip, iN) }
                            if it == 2 {
                                for (dt, dp, dn) in attrs(ip, ip + iN) {
                                    if dt == 1 && dn >= 2 { link.vlanID = u16(dp) }
                                    if dt == 5 && dn >= 2 { link.vlanProtocol = UInt16(b[dp]) << 8 | UInt16(b[dp + 1]) }
                                }
                            }
                        }
                    default: break
                    }
                }
                out.append(link)
            default:
                break
            }
            o += (len + 3) & ~3
        }
        return false
    }

    /// The link named `name`, if the namespace has it.
    public func link(named name: String) throws -> Link? { try links().first { $0.name == name } }

    /// The 802.1Q VLAN ids of the VLAN devices whose lower device is `parent`.
    public func vlans(on parent: String) throws -> Set<UInt16> {
        let all = try links()
        guard let p = all.first(where: { $0.name == parent }) else { return [] }
        return Set(all.compactMap { l in
            l.kind == "vlan" && l.parent == p.index && l.vlanProtocol == 0x8100 ? l.vlanID : nil
        })
    }
}

/// An rtnetlink request: nlmsghdr, a fixed part (ifinfomsg, ifaddrmsg) and attributes, little
/// endian as the kernel reads them on this machine.
struct NetlinkMessage {
    static let request: UInt16 = 0x1, ack: UInt16 = 0x4
    private static let dump: UInt16 = 0x300
    static let replace: UInt16 = 0x100, exclusive: UInt16 = 0x200, create: UInt16 = 0x400
    private(set) var raw: [UInt8]

    /// NLM_F_REQUEST is always set; a change also asks for an ack, a dump ends with NLMSG_DONE.
    init(type: UInt16, flags: UInt16 = 0, fixed: Int, dump: Bool = false) {
        raw = [UInt8](repeating: 0, count: 16 + fixed)
        put16(type, at: 4)
        put16(Self.request | (dump ? Self.dump : Self.ack) | flags, at: 6)
    }

    mutating func put8(_ v: UInt8, at o: Int) { raw[o] = v }
    mutating func put16(_ v: UInt16, at o: Int) { for i in 0..<2 { raw[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt16(i))) } }
    mutating func put32(_ v: UInt32, at o: Int) { for i in 0..<4 { raw[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }

    mutating func attr(_ type: UInt16, _ payload: [UInt8]) {
        let start = raw.count
        raw += [0, 0, 0, 0] + payload
        put16(UInt16(4 + payload.count), at: start)
        put16(type, at: start + 2)
        while raw.count % 4 != 0 { raw.append(0) }
    }

    mutating func attr(_ type: UInt16, string: String) { attr(type, Array(string.utf8) + [0]) }
    mutating func attr(_ type: UInt16, u16 v: UInt16) { attr(type, [UInt8(v & 0xff), UInt8(v >> 8)]) }
    mutating func attr(_ type: UInt16, u32 v: UInt32) { attr(type, (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) }) }

    /// A nested attribute (NLA_F_NESTED) holding what `body` puts.
    mutating func nest(_ type: UInt16, _ body: (inout NetlinkMessage) -> Void) {
        let start = raw.count
        raw += [0, 0, 0, 0]
        body(&self)
        put16(UInt16(raw.count - start), at: start)
        put16(type | 0x8000, at: start + 2)
    }

    /// The bytes to send: length and sequence number filled in.
    func bytes(seq: UInt32) -> [UInt8] {
        var m = self
        m.put32(UInt32(raw.count), at: 0)
        m.put32(seq, at: 8)
        return m.raw
    }
}
