import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sends hand-made Ethernet frames out of an interface in a network namespace (AF_PACKET), for
/// the cases that need a frame the stack would never build: a forged source MAC.
public enum RawFrame {
    /// Sends `frames` out of `ifname` in namespace `netns` (a name under /run/netns). The
    /// calling thread enters the namespace and returns to its own before this returns.
    /// setns(2), which Glibc's Swift module does not export (a GNU extension).
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    static let setnsCall: SetNS? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns").map { unsafeBitCast($0, to: SetNS.self) }
    static let cloneNewNet: Int32 = 0x4000_0000
    static let ethPAll: UInt16 = 0x0003

    public static func send(_ frames: [[UInt8]], ifname: String, netns: String) throws {
        guard let setns = setnsCall else { throw ScenarioError("raw frame: setns(2) is not available") }
        let own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard own >= 0 else { throw ScenarioError("raw frame: cannot open /proc/thread-self/ns/net: \(String(cString: strerror(errno)))") }
        defer { close(own) }
        let target = open("/run/netns/\(netns)", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw ScenarioError("raw frame: no namespace \(netns): \(String(cString: strerror(errno)))") }
        defer { close(target) }
        guard setns(target, cloneNewNet) == 0 else { throw ScenarioError("raw frame: setns \(netns): \(String(cString: strerror(errno)))") }
        defer { _ = setns(own, cloneNewNet) }
        let ifindex = if_nametoindex(ifname)
        guard ifindex != 0 else { throw ScenarioError("raw frame: no interface \(ifname) in \(netns)") }
        let proto = ethPAll.bigEndian
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(proto))
        guard fd >= 0 else { throw ScenarioError("raw frame: AF_PACKET socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // struct sockaddr_ll: family, protocol (big endian), ifindex, hatype, pkttype, halen, addr[8]
        for f in frames {
            var addr = [UInt8](repeating: 0, count: 20)
            addr.withUnsafeMutableBytes { p in
                p.storeBytes(of: UInt16(AF_PACKET), toByteOffset: 0, as: UInt16.self)
                p.storeBytes(of: proto, toByteOffset: 2, as: UInt16.self)
                p.storeBytes(of: Int32(ifindex), toByteOffset: 4, as: Int32.self)
                p[11] = 6
                for i in 0..<6 { p[12 + i] = f[i] }
            }
            let n = f.withUnsafeBytes { buf in
                addr.withUnsafeBytes { a in
                    sendto(fd, buf.baseAddress, f.count, 0, a.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(20))
                }
            }
            guard n == f.count else { throw ScenarioError("raw frame: sendto on \(ifname): \(String(cString: strerror(errno)))") }
        }
    }

    /// An IPv4/UDP-looking frame (ethertype 0x0800, a zero payload) from `source` to `destination`.
    public static func frame(to destination: [UInt8], from source: [UInt8], payload: Int = 46) -> [UInt8] {
        destination + source + [0x08, 0x00] + [UInt8](repeating: 0, count: payload)
    }

    /// A MAC address from "aa:bb:cc:dd:ee:ff".
    public static func mac(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        return parts.count == 6 ? parts : nil
    }
}
