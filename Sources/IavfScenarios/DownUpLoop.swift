import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The guest half of `bench downup`: for each VLAN count, VF1 gets that many VLANs, then
/// `ip link set down` / `up` cycles, each waited out until the driver and the PF are quiet.
/// Lines `PASS: downup vlans=K iter=I` close each iteration (the recorder's marks, so the
/// host can cut the probe trace into cycles); `# wall ...` lines give the wall-clock times.
public struct DownUpLoop {
    public var vlanCounts: [Int]
    public var iterations: Int
    public let bed: Testbed
    public let out: (String) -> Void

    public init(vlanCounts: [Int], iterations: Int, bed: Testbed, out: @escaping (String) -> Void) {
        self.vlanCounts = vlanCounts
        self.iterations = iterations
        self.bed = bed
        self.out = out
    }

    public func run() throws {
        let vf = bed.vfs[0]
        for k in vlanCounts {
            let vids = (0..<k).map { UInt16(100 + $0) }
            for v in vids { bed.addVlan(vf, v) }
            _ = try quiet(until: { try bed.programmed(vf) == Set(vids) }, seconds: 20)
            for i in 0..<iterations {
                let t0 = Date()
                bed.down(vf)
                let downOK = try quiet(until: { true }, seconds: 10)
                let t1 = Date()
                bed.up(vf)
                let upOK = try quiet(until: {
                    try bed.programmed(vf) == Set(vids) && bed.ip(vf, "-o", "link", "show", vf.ifname).output.contains("LOWER_UP")
                }, seconds: 20)
                let t2 = Date()
                out(String(format: "# wall vlans=%d iter=%d down_ms=%.1f up_ms=%.1f", k, i,
                           t1.timeIntervalSince(t0) * 1000, t2.timeIntervalSince(t1) * 1000))
                out("\(downOK && upOK ? "PASS" : "FAIL"): downup vlans=\(k) iter=\(i)")
            }
            bed.deleteAllVlans(vf)
            _ = try quiet(until: { try bed.programmed(vf).isEmpty }, seconds: 20)
        }
    }

    /// Waits until `condition` holds and the PF's trace has not grown for 300 ms.
    private func quiet(until condition: () throws -> Bool, seconds: Double) throws -> Bool {
        var lastSize: UInt64 = 0
        var stableSince = Date()
        return try bed.waitFor(seconds) {
            let size = (try? FileManager.default.attributesOfItem(atPath: bed.pfTrace)[.size] as? UInt64) ?? 0
            if size != lastSize { lastSize = size; stableSince = Date() }
            return try condition() && Date().timeIntervalSince(stableSince) >= 0.3
        }
    }
}
