import IavfProbes

/// Decides when a device has settled: its last snapshot showed no `current_op` and neither
/// VLAN request bit (`aq_required` bits 3 and 5), and nothing VLAN-related happened for
/// the settle period. One `settled` per quiet spell.
public struct SettleDetector {
    public static let addVlanBit: UInt64 = 1 << 3
    public static let delVlanBit: UInt64 = 1 << 5

    public let periodNs: UInt64

    struct DeviceQuiet {
        var quiet = false
        var lastActivityNs: UInt64 = 0
        var reported = true     // nothing to report before the first activity
    }

    private var devices: [String: DeviceQuiet] = [:]

    public init(periodNs: UInt64) { self.periodNs = periodNs }

    /// Feed every record of the device (before the mapper drops any).
    public mutating func observe(_ e: ProbeEvent, dev: String) {
        var d = devices[dev] ?? DeviceQuiet()
        if case .snapshot(let s) = e.payload {
            d.quiet = s.currentOp == 0 && s.aqRequired & (Self.addVlanBit | Self.delVlanBit) == 0
        }
        // Any record is driver activity (snapshots come only with probed calls): the
        // quiet period starts at the last one.
        d.lastActivityNs = max(d.lastActivityNs, e.timestampNs)
        d.reported = false
        devices[dev] = d
    }

    /// The devices that settled by `nowNs` (monotonic), each once per quiet spell.
    public mutating func settled(nowNs: UInt64) -> [String] {
        var out: [String] = []
        for (dev, var d) in devices where d.quiet && !d.reported && nowNs >= d.lastActivityNs &+ periodNs {
            d.reported = true
            devices[dev] = d
            out.append(dev)
        }
        return out.sorted()
    }
}
