import IavfSystem
import Foundation
import IavfModel

/// How `stress` draws its ops: every kind by its weight (uniform), from a per-seed subset of
/// kinds (swarm), or swarm plus ops timed into the windows races need (guided).
public enum StressMode: String, Sendable, CaseIterable, Codable {
    case uniform, swarm, guided
}

/// One step of `iavf-check stress`: what a user, a namespace manager or the PF does to VF1.
/// Written and parsed as short words ("add 101", "down", "pf-reset") so a shrunk sequence
/// can be printed, pasted back with `--replay`, and read by a person.
public enum StressOp: Equatable, Hashable, Sendable, CustomStringConvertible {
    case add(UInt16)
    case del(UInt16)
    case down
    case up
    /// Move VF1's netdev to the other test namespace and bring it up there (its VLAN
    /// devices are unregistered by the move: every VID is killed while the device closes).
    case netns
    /// PF-initiated VF reset (RESET_IMPENDING, then the reset).
    case pfReset
    /// VF function-level reset through PCI config space.
    case flr
    /// The PF reports link down, then link up 50 ms later.
    case linkFlap
    /// The PF rejects the VF's next VLAN ADD / DEL message (ERR_PARAM).
    case rejectAdd
    case rejectDel
    /// Do nothing for this many milliseconds (lets queued work go out, or not).
    case wait(ms: Int)

    /// The op's kind as `--without` and the weights name it.
    public var kind: String { description.split(separator: " ").first.map(String.init) ?? description }

    public var description: String {
        switch self {
        case .add(let v): return "add \(v)"
        case .del(let v): return "del \(v)"
        case .down: return "down"
        case .up: return "up"
        case .netns: return "netns"
        case .pfReset: return "pf-reset"
        case .flr: return "flr"
        case .linkFlap: return "link-flap"
        case .rejectAdd: return "reject-add"
        case .rejectDel: return "reject-del"
        case .wait(let ms): return "wait \(ms)"
        }
    }

    /// Parses one op as `description` writes it.
    public static func parse(_ text: String) -> StressOp? {
        let w = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let head = w.first else { return nil }
        func num() -> Int? { w.count == 2 ? Int(w[1]) : nil }
        switch (head, w.count) {
        case ("add", 2): return num().flatMap { (1...4094).contains($0) ? .add(UInt16($0)) : nil }
        case ("del", 2): return num().flatMap { (1...4094).contains($0) ? .del(UInt16($0)) : nil }
        case ("down", 1): return .down
        case ("up", 1): return .up
        case ("netns", 1): return .netns
        case ("pf-reset", 1): return .pfReset
        case ("flr", 1): return .flr
        case ("link-flap", 1): return .linkFlap
        case ("reject-add", 1): return .rejectAdd
        case ("reject-del", 1): return .rejectDel
        case ("wait", 2): return num().flatMap { (0...10_000).contains($0) ? .wait(ms: $0) : nil }
        default: return nil
        }
    }
}

public struct StressPlanError: Error, CustomStringConvertible {
    public var description: String
}

/// A sequence of ops: generated from a seed, or parsed from "add 100; down; up".
public enum StressPlan {
    /// The VIDs the generator draws from: ten, so the PF's limit of eight can be reached.
    public static let vids: [UInt16] = Array(100...109)

    /// How often each kind of op is drawn (out of the sum). VLAN work dominates; the
    /// disruptive ops are rarer so that VLAN work is in flight when they hit.
    public static let weights: [(kind: String, weight: Int)] = [
        ("add", 30), ("del", 22), ("down", 8), ("up", 9), ("wait", 12), ("netns", 4),
        ("pf-reset", 4), ("flr", 3), ("link-flap", 3), ("reject-add", 2), ("reject-del", 3),
    ]

    /// `count` ops drawn from `seed` with SplitMix64: the same seed gives the same ops everywhere.
    /// The generator keeps the VLANs its own adds should have made, so that most deletes
    /// name a VLAN that exists (three in four) and adds keep coming after the limit;
    /// what really happens is not fed back: the ops depend on the seed alone.
    /// `excluding`: op kinds (`reject-add`, `netns`, ...) never to draw, e.g. the trigger of a
    /// finding already known. The other kinds keep their relative weights.
    public static func generate(seed: UInt64, count: Int, excluding: Set<String> = [], mode: StressMode = .uniform) -> [StressOp] {
        var rng = SplitMix64(seed: seed)
        var weights = Self.weights.filter { !excluding.contains($0.kind) }
        if mode != .uniform {
            // Swarm testing: this sequence draws from a random subset of the kinds (VLAN work
            // always), so rare combinations get the whole sequence instead of a few percent.
            let kept = weights.filter { w in ["add", "del"].contains(w.kind) || rng.next() % 2 == 0 }
            if kept.count > 2 || weights.count <= 2 { weights = kept }
        }
        let total = weights.reduce(0) { $0 + $1.weight }
        var ops: [StressOp] = []
        var present: [UInt16] = []
        ops.reserveCapacity(count)
        for _ in 0..<max(count, 0) {
            // Guided: right after a reset, an FLR, a link flap, a down or a namespace move,
            // delete (or add) a VLAN at once, while the driver is inside that window (the
            // caps reply of a reset re-queues the list: S3; a down overwrites a queued delete:
            // R1); right after a delete, sometimes reset or go down while the DEL is with the PF.
            if mode == .guided, let last = ops.last, rng.next() % 2 == 0 {
                switch last {
                case .pfReset, .flr, .linkFlap, .down, .netns:
                    if let v = present.isEmpty ? nil : present[Int(rng.next() % UInt64(present.count))] {
                        ops.append(.del(v))
                        present.removeAll { $0 == v }
                    } else {
                        let v = vids[Int(rng.next() % UInt64(vids.count))]
                        ops.append(.add(v))
                        present.append(v)
                    }
                    continue
                case .del where rng.next() % 2 == 0:
                    let next: [StressOp] = [.pfReset, .down, .flr].filter { !excluding.contains($0.kind) }
                    if !next.isEmpty { ops.append(next[Int(rng.next() % UInt64(next.count))]); continue }
                default: break
                }
            }
            var pick = Int(rng.next() % UInt64(total))
            var kind = weights[0].kind
            for w in weights {
                if pick < w.weight { kind = w.kind; break }
                pick -= w.weight
            }
            let vid = vids[Int(rng.next() % UInt64(vids.count))]
            switch kind {
            case "add":
                ops.append(.add(vid))
                if !present.contains(vid) { present.append(vid) }
            case "del":
                let v = !present.isEmpty && rng.next() % 4 != 0 ? present[Int(rng.next() % UInt64(present.count))] : vid
                ops.append(.del(v))
                present.removeAll { $0 == v }
            case "down": ops.append(.down)
            case "up": ops.append(.up)
            case "wait": ops.append(.wait(ms: [0, 5, 20, 50, 200][Int(rng.next() % 5)]))
            case "netns":
                ops.append(.netns)
                present.removeAll()
            case "pf-reset": ops.append(.pfReset)
            case "flr": ops.append(.flr)
            case "link-flap": ops.append(.linkFlap)
            case "reject-add": ops.append(.rejectAdd)
            default: ops.append(.rejectDel)
            }
        }
        return ops
    }

    /// The kinds a mode kept for `seed` (swarm and guided draw from a subset).
    public static func kinds(seed: UInt64, excluding: Set<String> = [], mode: StressMode) -> [String] {
        Set(generate(seed: seed, count: 400, excluding: excluding, mode: mode).map(\.kind)).sorted()
    }

    /// "add 100; down; up" (also newline-separated) -> ops; names the first bad op.
    public static func parse(_ text: String) throws -> [StressOp] {
        let parts = text.split(whereSeparator: { $0 == ";" || $0 == "\n" })
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw StressPlanError(description: "no ops in '\(text)'") }
        return try parts.enumerated().map { i, p in
            guard let op = StressOp.parse(p) else {
                throw StressPlanError(description: "op \(i + 1) '\(p)' is not one of: add VID, del VID, down, up, netns, pf-reset, flr, link-flap, reject-add, reject-del, wait MS")
            }
            return op
        }
    }

    public static func text(_ ops: [StressOp]) -> String { ops.map(\.description).joined(separator: "; ") }
}

extension StressPlanError: ToolError {
    public var exitStatus: Int32 { ExitStatus.badInput }
}
