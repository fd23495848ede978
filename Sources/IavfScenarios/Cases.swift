import Foundation
import IavfModel
#if canImport(Glibc)
import Glibc
#endif

/// Why a case failed, in the selftest's words where it has them.
public struct CaseFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ s: String) { description = s }
}

/// One case of the suite: the selftest's name and what it does to VF1 (VF2 is the bystander
/// that must not be disturbed).
public struct ScenarioCase: Sendable {
    public var name: String
    public var run: @Sendable (CaseContext) throws -> Void
}

/// What a case can do and assert.
public struct CaseContext {
    public let bed: Testbed
    /// How `expect` knows the driver is quiet before it believes a match.
    public let wait: SettledWait
    public var vf: Testbed.VF { bed.vfs[0] }
    /// The PF's settle budget: a train of watchdog messages costs >= 20 ms each, more under TCG.
    public var settle: Double = 10

    public init(bed: Testbed, wait: SettledWait) {
        self.bed = bed
        self.wait = wait
    }

    public func add(_ vid: UInt16) throws {
        let r = bed.addVlan(vf, vid)
        guard r.ok else { throw CaseFailure("creating VLAN \(vid): \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))") }
    }

    public func del(_ vid: UInt16) throws {
        let r = bed.delVlan(vf, vid)
        guard r.ok else { throw CaseFailure("deleting VLAN \(vid): \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))") }
    }

    /// Adds (`vid > 0`) and deletes (`-vid`) back to back in one `ip -batch` (the storm
    /// cases: the selftest's loop pace on hardware); the first failing op fails the case.
    public func churn(_ ops: [Int]) throws {
        let r = bed.vlanBatch(vf, ops)
        guard !r.ok else { return }
        let what = r.failed.flatMap { $0 >= 0 && $0 < ops.count ? ops[$0] : nil }
            .map { $0 > 0 ? "creating VLAN \($0)" : "deleting VLAN \(-$0)" } ?? "a VLAN op"
        let detail = r.output.split(separator: "\n").first { !$0.hasPrefix("Command failed") } ?? ""
        throw CaseFailure("\(what) (op \((r.failed ?? -1) + 1) of \(ops.count)): \(detail.trimmingCharacters(in: .whitespaces))")
    }

    public func add(_ vids: [UInt16]) throws { for v in vids { try add(v) } }
    public func del(_ vids: [UInt16]) throws { for v in vids { try del(v) } }

    public func down() throws { let r = bed.down(vf); guard r.ok else { throw CaseFailure("ip link set down: \(r.output)") } }
    public func up() throws { let r = bed.up(vf); guard r.ok else { throw CaseFailure("ip link set up: \(r.output)") } }

    /// The VLAN devices are exactly `vids` and the PF has programmed exactly them, and still
    /// has once the driver is quiet (a late DEL or ADD must not slip past the check).
    public func expect(_ vids: [UInt16], within seconds: Double? = nil) throws {
        let want = Set(vids)
        let devs = bed.vlanDevices(vf)
        guard devs == want else { throw CaseFailure("VLAN devices \(devs.sorted()), expected \(want.sorted())") }
        let budget = seconds ?? settle
        switch try wait.wait(for: want, within: budget, observe: { try bed.programmed(vf) }) {
        case .matched:
            let after = bed.vlanDevices(vf)
            guard after == want else { throw CaseFailure("VLAN devices \(after.sorted()) once the driver was quiet, expected \(want.sorted())") }
        case .mismatch(let have):
            throw CaseFailure("the PF has VLANs \(have.sorted()) programmed, expected \(want.sorted())")
        case .notQuiet:
            throw CaseFailure("the PF has VLANs \(want.sorted()) programmed, but the driver did not go quiet to confirm it (no `settled` from the probes)")
        }
    }

    /// The bystander VF still has what it had.
    public func bystanderUndisturbed(_ vids: Set<UInt16>) throws {
        guard bed.vfs.count > 1 else { return }
        let other = bed.vfs[1]
        let have = try bed.programmed(other)
        guard have == vids else { throw CaseFailure("VF2's PF VLANs changed to \(have.sorted())") }
    }

    public func pf(_ line: String) throws { try bed.pf(line + " vf=\(vf.index)") }

    /// VF function-level reset through PCI (`echo 1 > .../reset`).
    public func vfFLR() throws {
        guard Shell.write("1", to: "/sys/bus/pci/devices/\(vf.pci)/reset") else {
            throw CaseFailure("VF FLR: cannot write /sys/bus/pci/devices/\(vf.pci)/reset: \(String(cString: strerror(errno)))")
        }
    }

    /// Waits for the link to come back (after a reset or a flap).
    public func waitUp(_ seconds: Double = 20) throws {
        guard bed.waitFor(seconds, { bed.isLowerUp(vf) }) else {
            throw CaseFailure("\(vf.ifname) is not LOWER_UP after \(Int(seconds)) s")
        }
    }

    public func sleep(_ s: Double) { usleep(UInt32(s * 1e6)) }
}

/// The state, reset and ping groups of iavf_vlan_state.sh, by name (written from the names and the
/// spec; no code of the selftest), max 8 VLANs per VF.
public enum ScenarioCatalog {
    static let eight: [UInt16] = Array(100...107)
    static let five: [UInt16] = Array(100...104)

    public static let all: [ScenarioCase] = state + reset + ping

    public static let state: [ScenarioCase] = [
        .init(name: "state: basic add/remove") { c in
            try c.add(100); try c.expect([100]); try c.del(100); try c.expect([])
        },
        .init(name: "state: 8 VLANs add/remove") { c in
            try c.add(eight); try c.expect(eight); try c.del(eight); try c.expect([])
        },
        .init(name: "state: VLAN persists across down/up") { c in
            try c.add(100); try c.expect([100]); try c.down(); try c.up(); try c.waitUp(); try c.expect([100])
        },
        .init(name: "state: 5 VLANs persist across down/up") { c in
            try c.add(five); try c.expect(five); try c.down(); try c.up(); try c.waitUp(); try c.expect(five)
        },
        .init(name: "state: rapid add/del same VLAN x100") { c in
            try c.churn((0..<100).flatMap { _ in [100, -100] })
            try c.expect([])
        },
        .init(name: "state: add during remove (REMOVING race)") { c in
            try c.add(100); try c.expect([100])
            try c.del(100); try c.add(100)
            try c.expect([100])
        },
        .init(name: "state: bulk 8 add then remove") { c in
            try c.add(eight); try c.del(eight); try c.expect([])
        },
        .init(name: "state: 20x rapid down/up with VLAN") { c in
            try c.add(100); try c.expect([100])
            for _ in 0..<20 { try c.down(); try c.up() }
            try c.waitUp(); try c.expect([100])
        },
        .init(name: "state: add VLAN while down") { c in
            try c.down(); try c.add(100); try c.up(); try c.waitUp(); try c.expect([100])
        },
        .init(name: "state: remove VLAN while down") { c in
            try c.add(100); try c.expect([100]); try c.down(); try c.del(100); try c.up(); try c.waitUp(); try c.expect([])
        },
        .init(name: "state: down -> remove -> up") { c in
            try c.add(eight.prefix(3).map { $0 }); try c.expect([100, 101, 102])
            try c.down(); try c.del([100, 101, 102]); try c.up(); try c.waitUp(); try c.expect([])
        },
        .init(name: "state: add VLANs while down, verify all after up") { c in
            try c.down(); try c.add(five); try c.up(); try c.waitUp(); try c.expect(five)
        },
        .init(name: "state: double add same VLAN (idempotent)") { c in
            try c.add(100)
            let again = c.bed.addVlan(c.vf, 100)
            guard !again.ok else { throw CaseFailure("a second VLAN device with the same id was created") }
            try c.expect([100])
        },
        .init(name: "state: double remove same VLAN") { c in
            try c.add(100); try c.expect([100]); try c.del(100)
            let again = c.bed.delVlan(c.vf, 100)
            guard !again.ok else { throw CaseFailure("deleting a deleted VLAN succeeded") }
            try c.expect([])
        },
        .init(name: "state: interleaved add/remove different VIDs") { c in
            try c.add(100); try c.add(101); try c.del(100); try c.add(102); try c.del(101); try c.add(103)
            try c.expect([102, 103])
        },
        .init(name: "state: remove+re-add loop x50") { c in
            try c.add(100)
            try c.churn((0..<50).flatMap { _ in [-100, 100] })
            try c.expect([100])
        },
        .init(name: "state: stress 8 VLANs (fill to max)") { c in
            try c.add(eight); try c.expect(eight)
        },
        .init(name: "state: VLAN VID 1 (common edge case)") { c in
            try c.add(1); try c.expect([1])
        },
        .init(name: "state: VLAN VID 4094 (max)") { c in
            try c.add(4094); try c.expect([4094])
        },
        .init(name: "state: concurrent VLAN adds (4 parallel)") { c in
            let rs = Shell.parallel((100...103).map { c.bed.addVlanCommand(c.vf, UInt16($0)) })
            if let bad = rs.first(where: { !$0.ok }) { throw CaseFailure("parallel add: \(bad.output)") }
            try c.expect([100, 101, 102, 103])
        },
        .init(name: "state: concurrent VLAN deletes (4 parallel)") { c in
            try c.add([100, 101, 102, 103]); try c.expect([100, 101, 102, 103])
            let rs = Shell.parallel((100...103).map { c.bed.delVlanCommand(c.vf, UInt16($0)) })
            if let bad = rs.first(where: { !$0.ok }) { throw CaseFailure("parallel delete: \(bad.output)") }
            try c.expect([])
        },
        .init(name: "state: add/del storm (200 ops, 5 VIDs)") { c in
            var have = Set<UInt16>()
            var rng = SplitMix64(seed: 200)
            var ops: [Int] = []
            for _ in 0..<200 {
                let v = five[Int(rng.next() % 5)]
                if have.contains(v) { ops.append(-Int(v)); have.remove(v) } else { ops.append(Int(v)); have.insert(v) }
            }
            try c.churn(ops)
            try c.expect(have.sorted())
        },
        .init(name: "state: over-limit VLAN rejected, existing survive") { c in
            try c.add(eight); try c.expect(eight)
            let r = c.bed.addVlan(c.vf, 108)
            guard !r.ok else { throw CaseFailure("a 9th VLAN was accepted") }
            try c.expect(eight)
        },
    ]

    public static let reset: [ScenarioCase] = [
        .init(name: "reset: VLANs recover after VF PCI FLR") { c in
            try c.add(100); try c.expect([100]); try c.vfFLR(); try c.waitUp(); try c.expect([100], within: 20)
        },
        .init(name: "reset: 5 VLANs recover after VF PCI FLR") { c in
            try c.add(five); try c.expect(five); try c.vfFLR(); try c.waitUp(); try c.expect(five, within: 20)
        },
        .init(name: "reset: rapid VF resets x5 with VLANs") { c in
            try c.add([100, 101]); try c.expect([100, 101])
            for _ in 0..<5 { try c.vfFLR(); c.sleep(0.2) }
            try c.waitUp(30); try c.expect([100, 101], within: 30)
        },
        .init(name: "reset: VLANs survive PF link flap") { c in
            try c.add(100); try c.expect([100]); try c.pf("link down"); c.sleep(0.5); try c.pf("link up"); try c.waitUp(); try c.expect([100])
        },
        .init(name: "reset: 5 VLANs survive PF link flap") { c in
            try c.add(five); try c.expect(five); try c.pf("link down"); c.sleep(0.5); try c.pf("link up"); try c.waitUp(); try c.expect(five)
        },
        .init(name: "reset: VLANs survive 3x PF link flap") { c in
            try c.add(100); try c.expect([100])
            for _ in 0..<3 { try c.pf("link down"); c.sleep(0.3); try c.pf("link up"); c.sleep(0.3) }
            try c.waitUp(); try c.expect([100])
        },
        .init(name: "reset: VLANs survive PF PCI FLR") { c in
            try c.add(100); try c.expect([100]); try c.pf("reset"); c.sleep(1); try c.waitUp(30); try c.expect([100], within: 30)
        },
        .init(name: "reset: all 8 VLANs recover after VF FLR") { c in
            try c.add(eight); try c.expect(eight); try c.vfFLR(); try c.waitUp(); try c.expect(eight, within: 30)
        },
        .init(name: "reset: all 8 VLANs survive PF link flap") { c in
            try c.add(eight); try c.expect(eight); try c.pf("link down"); c.sleep(0.5); try c.pf("link up"); try c.waitUp(); try c.expect(eight)
        },
        .init(name: "reset: all 8 VLANs survive PF PCI FLR") { c in
            try c.add(eight); try c.expect(eight); try c.pf("reset"); c.sleep(1); try c.waitUp(30); try c.expect(eight, within: 30)
        },
        .init(name: "reset: FLR during VLAN add/del (race)") { c in
            try c.add([100, 101]); try c.expect([100, 101])
            try c.del(101); try c.vfFLR(); try c.add(102)
            try c.waitUp(30); try c.expect([100, 102], within: 30)
        },
        .init(name: "reset: VF driver unbind/bind cycle") { c in
            try c.add(100); try c.expect([100])
            let pci = c.vf.pci
            guard Shell.write(pci, to: "/sys/bus/pci/drivers/iavf/unbind") else { throw CaseFailure("unbind \(pci) failed") }
            guard Shell.write(pci, to: "/sys/bus/pci/drivers/iavf/bind") else { throw CaseFailure("bind \(pci) failed") }
            try c.bed.rediscover(c.vf.index)
            try c.waitUp(30)
            try c.expect([], within: 20)     // a new netdev: no VLAN devices, nothing programmed
            try c.add(100); try c.expect([100])
        },
    ]
}
