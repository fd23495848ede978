import CIavfNetns
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The links of a network namespace as rtnetlink dumps them (what `ip -d link show` prints):
/// the suite's waits ask "is VF1 LOWER_UP?" and "which VLAN devices sit on VF1?" many times a
/// case, and each `ip` process costs about a tenth of a second in a TCG guest. Only reads:
/// the cases still make every change with `ip`.
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
public final class LinkTable: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
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
        return s
    }

    /// Every link of the namespace (one RTM_GETLINK dump).
    public func links() throws -> [Link] {
        lock.lock()
        defer { lock.unlock() }
        seq &+= 1
        // nlmsghdr (16 bytes) + ifinfomsg (16 bytes), family AF_UNSPEC.
        var req = [UInt8](repeating: 0, count: 32)
        func put32(_ v: UInt32, _ o: Int) { for i in 0..<4 { req[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
        func put16(_ v: UInt16, _ o: Int) { req[o] = UInt8(truncatingIfNeeded: v); req[o + 1] = UInt8(truncatingIfNeeded: v >> 8) }
        put32(32, 0)
        put16(18 /* RTM_GETLINK */, 4)
        put16(0x1 | 0x300 /* NLM_F_REQUEST | NLM_F_DUMP */, 6)
        put32(seq, 8)
        // An unconnected netlink socket sends to the kernel (port 0).
        let sent = req.withUnsafeBytes { send(fd, $0.baseAddress, 32, 0) }
        guard sent == 32 else { throw Failure(description: "netlink send: \(String(cString: strerror(errno)))") }
        var out: [Link] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "netlink receive: \(n < 0 ? String(cString: strerror(errno)) : "end of stream")") }
            if try Self.parse(buffer, count: n, seq: seq, into: &out) { return out }
        }
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
            case 2: // NLMSG_ERROR
                let err = Int32(bitPattern: u32(o + 16))
                if err == 0 { return true }
                throw Failure(description: "netlink: \(String(cString: strerror(-err)))")
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
