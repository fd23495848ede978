import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What an op did: done, or why not (in one line). Either way it is part of the
/// interleaving; stress.json lists it as "ok" or the reason.
public enum OpOutcome: Equatable, Sendable, CustomStringConvertible {
    case ok
    case failed(String)
    public var description: String {
        switch self {
        case .ok: return "ok"
        case .failed(let why): return why
        }
    }
}

/// Runs stress ops against VF1 of a testbed. An op's own failure (EEXIST, EIO, a down
/// device) is part of the interleaving, not a result: the checker is the oracle.
public final class StressExecutor {
    public let bed: Testbed
    /// The namespaces `netns` alternates between: the set-up's and a second one.
    public let homeNamespace: String
    public let otherNamespace: String

    public init(bed: Testbed) {
        self.bed = bed
        homeNamespace = bed.vfs[0].netns
        otherNamespace = bed.vfs[0].netns + "b"
    }

    var vf: Testbed.VF { bed.vfs[0] }

    /// Runs one op.
    @discardableResult
    public func run(_ op: StressOp) -> OpOutcome {
        func outcome(_ r: Shell.Result) -> OpOutcome {
            r.ok ? .ok : .failed(r.output.split(separator: "\n").first.map(String.init) ?? "exit \(r.status)")
        }
        switch op {
        case .add(let v): return outcome(bed.addVlan(vf, v))
        case .del(let v): return outcome(bed.delVlan(vf, v))
        case .down: return outcome(bed.down(vf))
        case .up: return outcome(bed.up(vf))
        case .netns:
            do {
                try bed.move(0, to: vf.netns == homeNamespace ? otherNamespace : homeNamespace)
                return .ok
            } catch { return .failed("\(error)") }
        case .pfReset: return pf("reset vf=\(vf.index)")
        case .flr:
            return Shell.write("1", to: "/sys/bus/pci/devices/\(vf.pci)/reset") ? .ok : .failed("FLR: \(String(cString: strerror(errno)))")
        case .linkFlap:
            let r = pf("link down vf=\(vf.index)")
            usleep(50_000)
            return r == .ok ? pf("link up vf=\(vf.index)") : r
        case .rejectAdd: return pf("reject ADD_VLAN_V2 vf=\(vf.index)")
        case .rejectDel: return pf("reject DEL_VLAN_V2 vf=\(vf.index)")
        case .wait(let ms):
            usleep(UInt32(ms) * 1000)
            return .ok
        }
    }

    private func pf(_ line: String) -> OpOutcome {
        do { try bed.pf(line); return .ok } catch { return .failed("\(error)") }
    }

    /// Back to the start state between attempts: PF faults cleared, VF1 home and up, no
    /// VLAN devices, nothing programmed at the PF. When a leak survives that (the unpatched
    /// driver can keep a filter for ever), the driver is unbound and bound again.
    /// Returns a problem, or nil.
    public func reset(timeout: Double = 15) -> String? {
        guard let problem = softReset(timeout: timeout) else { return nil }
        return rebind(timeout: timeout).map { "\(problem); \($0)" }
    }

    /// The heavy way back: VF1 unbound and bound again (a new netdev, an empty list).
    public func rebind(timeout: Double = 15) -> String? {
        do {
            try bed.rebind(0, into: homeNamespace)
        } catch {
            return "rebinding VF1 failed: \(error)"
        }
        return softReset(timeout: timeout).map { "after rebinding VF1: \($0)" }
    }

    private func softReset(timeout: Double) -> String? {
        _ = pf("clear vf=\(vf.index)")
        _ = pf("link up vf=\(vf.index)")
        if vf.netns != homeNamespace {
            do { try bed.move(0, to: homeNamespace) } catch { return "moving VF1 home: \(error)" }
        }
        guard bed.waitFor(timeout, { bed.linkExists(vf) }) else {
            return "\(vf.ifname) is gone from \(vf.netns)"
        }
        bed.deleteAllVlans(vf)
        bed.up(vf)
        guard bed.waitFor(timeout, { bed.isLowerUp(vf) }) else {
            return "\(vf.ifname) is not LOWER_UP after \(Int(timeout)) s"
        }
        do {
            guard try bed.waitFor(timeout, { try bed.vlanDevices(vf).isEmpty && bed.programmed(vf).isEmpty }) else {
                return "VF1 kept VLANs \(bed.vlanDevices(vf).sorted()) (PF: \(try bed.programmed(vf).sorted())) for \(Int(timeout)) s"
            }
        } catch {
            return "\(error)"
        }
        return nil
    }
}
