import Foundation
import IavfModel
#if canImport(Glibc)
import Glibc
#endif

/// Round-trip times of every ping the cases measured in this process (for the suite's
/// `# ping rtt` line).
public final class PingRecorder: @unchecked Sendable {
    public static let shared = PingRecorder()
    private let lock = NSLock()
    private var rtts: [Double] = []
    private var sent = 0, lost = 0

    public func record(rtts r: [Double], sent s: Int) {
        lock.lock(); defer { lock.unlock() }
        rtts += r; sent += s; lost += max(0, s - r.count)
    }

    /// "n=… lost=… p50=… ms p99=… ms max=… ms", or nil when nothing was measured.
    public func summary() -> String? {
        lock.lock(); defer { lock.unlock() }
        guard !rtts.isEmpty else { return nil }
        let s = rtts.sorted()
        func q(_ p: Double) -> Double { s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))] }
        return String(format: "n=%d lost=%d p50=%.2f ms p99=%.2f ms max=%.2f ms", s.count, lost, q(0.5), q(0.99), s.last!)
    }
}

/// The ping group's vocabulary: VLAN devices with an address on both VFs, pings both ways,
/// the PF's counters. VF1 is `vf`, VF2 is `peer`; VID v gets 10.(v-100).0.(1|2)/24.
extension CaseContext {
    public var peer: Testbed.VF { bed.vfs[1] }

    /// The address of `vf` on VLAN `vid` (vid 100...355), or on the untagged link (nil).
    public func address(_ vf: Testbed.VF, _ vid: UInt16?) -> String {
        "10.\(vid.map { Int($0) - 100 } ?? 250).0.\(vf.index + 1)"
    }

    func interface(_ vf: Testbed.VF, _ vid: UInt16?) -> String { vid.map { bed.vlanName(vf, $0) } ?? vf.ifname }

    /// A VLAN device on `which` VF (0: VF1, 1: VF2), up, with its address (or `address` on
    /// another subnet, for the isolation case).
    public func vlanLink(_ which: Int, _ vid: UInt16, address a: String? = nil) throws {
        let v = bed.vfs[which]
        let r = bed.addVlan(v, vid)
        guard r.ok else { throw CaseFailure("\(v.label): creating VLAN \(vid): \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))") }
        try configure(v, vid, address: a)
    }

    func configure(_ v: Testbed.VF, _ vid: UInt16?, address a: String? = nil) throws {
        let dev = interface(v, vid)
        let up = bed.setLink(v, dev, up: true)
        guard up.ok else { throw CaseFailure("\(v.label): ip link set \(dev) up: \(up.output)") }
        let add = bed.replaceAddress(v, a ?? address(v, vid), prefix: 24, dev: dev)
        guard add.ok else { throw CaseFailure("\(v.label): address on \(dev): \(add.output)") }
    }

    /// VLAN devices for `vids` on both VFs, with addresses.
    public func vlanLinks(_ vids: [UInt16]) throws {
        for v in vids { try vlanLink(0, v); try vlanLink(1, v) }
    }

    /// Re-adds the addresses after something that removed them (nothing does today, but a
    /// namespace move deletes the VLAN devices of the moved VF).
    public func readdress(_ vids: [UInt16]) throws {
        for v in vids { try configure(vf, v); try configure(peer, v) }
    }

    /// Pings `to` from `from` on `vid`: up to `converge` seconds for a first reply (ARP, a
    /// reset's re-negotiation), then `count` pings at 0.2 s that must all come back within 1 s.
    /// Returns the measured round trips in ms.
    @discardableResult
    public func ping(from: Testbed.VF, to: Testbed.VF, vid: UInt16?, count: Int = 3, converge: Double = 5,
                     target: String? = nil) throws -> [Double] {
        let dest = target ?? address(to, vid)
        let what = "\(from.label) -> \(to.label) on \(vid.map { "VLAN \($0)" } ?? "the untagged link") (\(dest))"
        let first = Date()
        var reached = false
        while !reached && Date().timeIntervalSince(first) < converge {
            reached = Self.pingOnce(bed, from, dest, count: 1).rtts.count == 1
        }
        guard reached else {
            PingRecorder.shared.record(rtts: [], sent: 1)
            throw CaseFailure("no reply \(what) within \(Int(converge)) s")
        }
        let r = Self.pingOnce(bed, from, dest, count: count)
        PingRecorder.shared.record(rtts: r.rtts, sent: count)
        guard r.rtts.count == count else {
            throw CaseFailure("\(r.rtts.count) of \(count) pings \(what) answered within 1 s: \(r.output.split(separator: "\n").suffix(2).joined(separator: " | "))")
        }
        return r.rtts
    }

    /// Pings both ways on each VID.
    public func pingBoth(_ vids: [UInt16?], converge: Double = 5) throws {
        for v in vids {
            try ping(from: vf, to: peer, vid: v, converge: converge)
            try ping(from: peer, to: vf, vid: v, converge: converge)
        }
    }

    /// `dest` must not answer `from` (two tries of one ping).
    public func expectNoReply(from: Testbed.VF, target dest: String, what: String) throws {
        let r = Self.pingOnce(bed, from, dest, count: 2)
        guard r.rtts.isEmpty else { throw CaseFailure("\(what): \(from.label) got \(r.rtts.count) replies from \(dest)") }
    }

    static func pingOnce(_ bed: Testbed, _ from: Testbed.VF, _ dest: String, count: Int) -> (rtts: [Double], output: String) {
        let r = Shell.run(["ip", "netns", "exec", from.netns] + PingTool.argv + ["-c", String(count), "-i", "0.2", "-W", "1", dest])
        return (PingTool.rtts(r.output), r.output)
    }

    /// Takes VF2 back to where the group found it: no VLAN devices, no address, spoofchk on,
    /// no port VLAN. VF1 is cleaned by the runner.
    public func cleanPeer() {
        bed.deleteAllVlans(peer)
        _ = bed.ip(peer, "addr", "flush", "dev", peer.ifname)
        _ = bed.ip(vf, "addr", "flush", "dev", vf.ifname)
    }

    /// The PF's counters for `which` VF, fresh.
    public func port(_ which: Int) throws -> PFTraceFollower.PFPort { try bed.pfPort(bed.vfs[which]) }

    /// VF1 and VF2 both LOWER_UP.
    public func waitBothUp(_ seconds: Double = 30) throws {
        try waitUp(seconds)
        guard bed.waitFor(seconds, { bed.isLowerUp(peer) }) else {
            throw CaseFailure("VF2 (\(peer.ifname)) is not LOWER_UP after \(Int(seconds)) s")
        }
    }

    /// Both VFs hold exactly `vids` in the PF.
    public func expectBoth(_ vids: [UInt16], within seconds: Double? = nil) throws {
        try expect(vids, within: seconds)
        let want = Set(vids)
        guard bed.waitFor(seconds ?? settle, { (try? bed.programmed(peer)) == want }) else {
            throw CaseFailure("VF2: the PF has VLANs \(((try? bed.programmed(peer)) ?? []).sorted()) programmed, expected \(want.sorted())")
        }
    }
}

/// ping in the guest: iputils when the root has it, else busybox's (the VM runner's guests
/// always have busybox).
public enum PingTool {
    public static let argv: [String] = {
        for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] where access(dir + "/ping", X_OK) == 0 { return [dir + "/ping"] }
        return ["busybox", "ping"]
    }()

    /// The `time=X ms` of each reply.
    public static func rtts(_ output: String) -> [Double] {
        output.split(separator: "\n").compactMap { line in
            guard let r = line.range(of: "time=") else { return nil }
            return Double(line[r.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
    }
}

extension ScenarioCatalog {
    static let three: [UInt16] = [100, 101, 102]

    /// The ping group of iavf_vlan_state.sh, by name: traffic between VF1 and VF2 through the
    /// emulated PF's switch, on VLANs programmed for both (one address per VLAN and VF).
    public static let ping: [ScenarioCase] = [
        .init(name: "ping: basic VLAN traffic") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks([100]); try c.expectBoth([100])
            try c.pingBoth([100])
        },
        .init(name: "ping: 5 VLANs simultaneously") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks(five); try c.expectBoth(five)
            try c.pingBoth(five)
        },
        .init(name: "ping: survives VF down/up") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks([100]); try c.expectBoth([100]); try c.pingBoth([100])
            try c.down(); try c.up(); try c.waitUp(); try c.expect([100])
            try c.pingBoth([100])
        },
        .init(name: "ping: survives 10x rapid VF flap") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks([100]); try c.expectBoth([100]); try c.pingBoth([100])
            for _ in 0..<10 { try c.down(); try c.up() }
            try c.waitUp(); try c.expect([100])
            try c.pingBoth([100])
        },
        .init(name: "ping: survives VF PCI FLR") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks([100]); try c.expectBoth([100]); try c.pingBoth([100])
            try c.vfFLR(); try c.waitUp(); try c.expect([100], within: 20)
            try c.pingBoth([100], converge: 10)
        },
        .init(name: "ping: survives PF link flap") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks([100]); try c.expectBoth([100]); try c.pingBoth([100])
            try c.pf("link down"); c.sleep(0.5)
            try c.expectNoReply(from: c.vf, target: c.address(c.peer, 100), what: "link down")
            try c.pf("link up"); try c.waitUp(); try c.expect([100])
            try c.pingBoth([100])
        },
        .init(name: "ping: survives PF PCI FLR") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks([100]); try c.expectBoth([100]); try c.pingBoth([100])
            try c.pf("reset"); c.sleep(1); try c.waitUp(30); try c.expect([100], within: 30)
            try c.pingBoth([100], converge: 10)
        },
        .init(name: "ping: stable while adding/removing other VLANs") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks([100]); try c.expectBoth([100]); try c.pingBoth([100])
            // 20 pings at 0.2 s on VLAN 100 while VF1 adds and removes 101...104 twice
            let dest = c.address(c.peer, 100)
            let pinger = Thread.detachNewThreadWithResult {
                CaseContext.pingOnce(c.bed, c.vf, dest, count: 20)
            }
            for _ in 0..<2 { try c.add([101, 102, 103, 104]); try c.del([101, 102, 103, 104]) }
            let r = pinger.wait()
            PingRecorder.shared.record(rtts: r.rtts, sent: 20)
            guard r.rtts.count == 20 else { throw CaseFailure("\(r.rtts.count) of 20 pings on VLAN 100 answered during the churn") }
            try c.expect([100])
            try c.pingBoth([100])
        },
        .init(name: "ping: all 3 VLANs work after down/up") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks(three); try c.expectBoth(three)
            try c.down(); try c.up(); try c.waitUp(); try c.expect(three)
            try c.pingBoth(three)
        },
        .init(name: "ping: parallel VLAN churn from both VFs") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks([100]); try c.expectBoth([100])
            // both VFs add and delete 101...104, five rounds each, at the same time
            let churn = { (v: Testbed.VF) -> [String] in
                let round = (101...104).map { vid in
                    let name = c.bed.vlanName(v, UInt16(vid))
                    return "ip -n \(v.netns) link add link \(v.ifname) name \(name) type vlan id \(vid) && ip -n \(v.netns) link del \(name)"
                }.joined(separator: " && ")
                return ["sh", "-c", "for i in 1 2 3 4 5; do \(round) || exit 1; done"]
            }
            let rs = Shell.parallel([churn(c.vf), churn(c.peer)])
            if let bad = rs.first(where: { !$0.ok }) { throw CaseFailure("churn: \(bad.output.trimmingCharacters(in: .whitespacesAndNewlines))") }
            try c.expectBoth([100])
            try c.pingBoth([100])
        },
        .init(name: "ping: VLANs work after rapid add/del churn") { c in
            defer { c.cleanPeer() }
            for _ in 0..<20 { try c.add(101); try c.del(101) }
            try c.vlanLinks([100, 101]); try c.expectBoth([100, 101])
            try c.pingBoth([100, 101])
        },
        .init(name: "ping: VLANs survive repeated NS move cycle") { c in
            defer { c.cleanPeer() }
            let home = c.vf.netns
            let away = home + "-away"
            defer { _ = Shell.run(["ip", "netns", "del", away]) }
            try c.vlanLinks([100, 101]); try c.expectBoth([100, 101]); try c.pingBoth([100, 101])
            for _ in 0..<3 {
                // The VLAN devices stay at home while their real device is away (8021q deletes
                // them only when it unregisters): when it is back they must carry traffic again.
                try c.bed.move(0, to: away); try c.bed.move(0, to: home)
                try c.waitUp()
                let devs = c.bed.vlanDevices(c.vf)
                guard devs == [100, 101] else { throw CaseFailure("VF1's VLAN devices after the move: \(devs.sorted()), expected [100, 101]") }
                for v: UInt16 in [100, 101] { try c.configure(c.vf, v) }
                try c.expectBoth([100, 101])
                try c.pingBoth([100, 101], converge: 10)
            }
        },
        .init(name: "ping: all VLANs survive PF link flap") { c in
            defer { c.cleanPeer() }
            try c.vlanLinks(eight); try c.expectBoth(eight)
            try c.pf("link down"); c.sleep(0.5); try c.pf("link up"); try c.waitUp(); try c.expect(eight)
            try c.pingBoth(eight)
        },
        .init(name: "ping: VLAN isolation (no cross-VLAN leakage)") { c in
            defer { c.cleanPeer() }
            // VF1 on 101 and VF2 on 102 share a subnet: only a leak between VLANs could answer.
            try c.vlanLinks([100])
            try c.vlanLink(0, 101, address: "10.77.0.1"); try c.vlanLink(1, 102, address: "10.77.0.2")
            try c.expect([100, 101])
            let before = try c.port(1).drop("vlan") + c.port(0).drop("vlan")
            try c.expectNoReply(from: c.vf, target: "10.77.0.2", what: "VLAN 101 -> 102")
            try c.expectNoReply(from: c.peer, target: "10.77.0.1", what: "VLAN 102 -> 101")
            let after = try c.port(1).drop("vlan") + c.port(0).drop("vlan")
            guard after > before else { throw CaseFailure("the PF counted no VLAN drop for the cross-VLAN frames (\(before) -> \(after))") }
            try c.pingBoth([100])
        },
        .init(name: "ping: traffic works with spoofchk enabled") { c in
            defer { c.cleanPeer() }
            try c.bed.pf("spoofchk on vf=0"); try c.bed.pf("spoofchk on vf=1")
            try c.vlanLinks([100]); try c.expectBoth([100])
            try c.pingBoth([100])
            // frames with a source MAC that is not VF1's must not leave it
            let peerMAC = c.bed.ip(c.peer, "-o", "link", "show", c.peer.ifname).output
                .components(separatedBy: "link/ether ").dropFirst().first?.split(separator: " ").first.flatMap { RawFrame.mac(String($0)) }
            guard let dst = peerMAC else { throw CaseFailure("cannot read VF2's MAC address") }
            let forged = RawFrame.frame(to: dst, from: [0x02, 0x5A, 0x5A, 0, 0, 1])
            let before = try c.port(0)
            try RawFrame.send(Array(repeating: forged, count: 5), ifname: c.vf.ifname, netns: c.vf.netns)
            c.sleep(0.3)
            let after = try c.port(0)
            guard after.spoofchk else { throw CaseFailure("the PF reports spoofchk off for VF1") }
            guard after.drop("spoof") - before.drop("spoof") == 5 else {
                throw CaseFailure("5 forged frames: the PF counted \(after.drop("spoof") - before.drop("spoof")) spoof drops")
            }
            try c.pingBoth([100])
        },
        .init(name: "ping: port VLAN (PF-assigned pvid)") { c in
            defer {
                try? c.bed.pf("vlan 0 vf=0"); try? c.bed.pf("vlan 0 vf=1")
                c.sleep(1); try? c.waitBothUp()
                c.cleanPeer()
            }
            // ice resets a VF whose port VLAN changes; the VFs then talk untagged over VLAN 200
            try c.bed.pf("vlan 200 vf=0"); try c.bed.pf("vlan 200 vf=1")
            c.sleep(1); try c.waitBothUp()
            guard try c.port(0).pvid == 200, try c.port(1).pvid == 200 else { throw CaseFailure("the PF does not report pvid 200 for both VFs") }
            try c.configure(c.vf, nil); try c.configure(c.peer, nil)
            try c.pingBoth([nil], converge: 10)
            // VF2 back on no port VLAN: VF1's untagged traffic (tagged 200 on the wire) must not reach it
            try c.bed.pf("vlan 0 vf=1"); c.sleep(1); try c.waitBothUp()
            try c.configure(c.peer, nil)
            let before = try c.port(1).drop("vlan")
            try c.expectNoReply(from: c.vf, target: c.address(c.peer, nil), what: "pvid 200 -> no port VLAN")
            guard try c.port(1).drop("vlan") > before else { throw CaseFailure("the PF counted no VLAN drop for pvid 200 -> untagged VF2") }
        },
    ]
}

extension Thread {
    /// Runs `body` on a new thread; `wait()` returns its result.
    static func detachNewThreadWithResult<T>(_ body: @escaping () -> T) -> ThreadResult<T> {
        let r = ThreadResult<T>()
        Thread.detachNewThread { r.set(body()) }
        return r
    }
}

final class ThreadResult<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var value: T?
    func set(_ v: T) { value = v; done.signal() }
    func wait() -> T { done.wait(); return value! }
}
