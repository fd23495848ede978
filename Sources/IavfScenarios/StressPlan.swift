import IavfSystem
import Foundation
import IavfModel

/// How `stress` draws its ops: every kind by its weight (uniform), from a per-seed subset of
/// kinds (swarm), swarm plus ops timed into the windows races need (guided), or guided plus
/// op pairs that drive the model rows the campaign has not hit yet (coverage: with
/// `--search`, each next sequence aims at what the previous ones left unhit).
public enum StressMode: String, Sendable, CaseIterable, Codable {
    case uniform, swarm, guided, coverage
}

/// A model row the coverage mode aims at: (From state, Event) as the table names them.
public struct StressRowTarget: Sendable, Equatable, Hashable {
    public var from: String
    public var event: String
    public init(from: String, event: String) { self.from = from; self.event = event }
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
    /// what really happens is not fed back: the ops depend on the seed (and, in the coverage
    /// mode, on the rows given as unhit) alone.
    /// `excluding`: op kinds (`reject-add`, `netns`, ...) never to draw, e.g. the trigger of a
    /// finding already known. The other kinds keep their relative weights.
    /// `unhit`: for the coverage mode, the rows to aim at (none: it draws as guided does).
    public static func generate(seed: UInt64, count: Int, excluding: Set<String> = [], mode: StressMode = .uniform,
                                unhit: [StressRowTarget] = []) -> [StressOp] {
        var rng = SplitMix64(seed: seed)
        let aims = unhit.filter { recipe(for: $0, vid: 100, excluding: excluding) != nil }
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
        while ops.count < max(count, 0) {
            // Coverage: every other step, the ops that drive one unhit row (a VID that is
            // present when the row starts from a filter the user has, else an absent one).
            if mode == .coverage, !aims.isEmpty, rng.next() % 2 == 0 {
                let aim = aims[Int(rng.next() % UInt64(aims.count))]
                let needsPresent = aim.from != "(none)"
                let absent = vids.filter { !present.contains($0) }
                let pool = needsPresent && !present.isEmpty ? present : (absent.isEmpty ? vids : absent)
                let v = pool[Int(rng.next() % UInt64(pool.count))]
                for op in recipe(for: aim, vid: v, excluding: excluding, present: present.contains(v)) ?? [] where ops.count < count {
                    ops.append(op)
                    if case .add(let a) = op, !present.contains(a) { present.append(a) }
                    if case .del(let d) = op { present.removeAll { $0 == d } }
                    if op == .netns { present.removeAll() }
                }
                continue
            }
            // Guided: right after a reset, an FLR, a link flap, a down or a namespace move,
            // delete (or add) a VLAN at once, while the driver is inside that window (the
            // caps reply of a reset re-queues the list: S3; a down overwrites a queued delete:
            // R1); right after a delete, sometimes reset or go down while the DEL is with the PF.
            if mode == .guided || mode == .coverage, let last = ops.last, rng.next() % 2 == 0 {
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

    /// The ops that drive `row` on VID `vid` (nil: no op sequence reaches it from a user's
    /// seat, e.g. V1 completions against a V2 PF or the watchdog's "not allowed" rows). The
    /// From state is set up by the op that leaves a filter there (ADD: just added; ADDING,
    /// ACTIVE: added and given time to go out or be answered; REMOVE: just deleted;
    /// REMOVING: deleted and given time to go out; DISABLE, INACTIVE: the unpatched down), then the event's op follows at once. A
    /// caps reply (CfgResp) is the end of a reset, so the reset comes first and the set-up
    /// lands inside it (S3: a delete during a reset). `present`: whether `vid` is already
    /// there (an add of a present VID would fail in `ip`, not reach the driver).
    public static func recipe(for row: StressRowTarget, vid v: UInt16, excluding: Set<String> = [],
                              present: Bool = false) -> [StressOp]? {
        let setup: [StressOp]
        switch row.from {
        case "(none)": setup = present ? [.del(v), .wait(ms: 200)] : []
        case "ADD": setup = present ? [] : [.add(v)]
        case "ADDING", "IS_NEW": setup = (present ? [] : [.add(v)]) + [.wait(ms: 5)]
        case "ACTIVE": setup = (present ? [] : [.add(v)]) + [.wait(ms: 200)]
        case "REMOVE": setup = (present ? [] : [.add(v), .wait(ms: 200)]) + [.del(v)]
        case "REMOVING": setup = (present ? [] : [.add(v), .wait(ms: 200)]) + [.del(v), .wait(ms: 5)]
        case "DISABLE": setup = (present ? [] : [.add(v), .wait(ms: 200)]) + [.down]
        case "INACTIVE": setup = (present ? [] : [.add(v), .wait(ms: 200)]) + [.down, .wait(ms: 200)]
        default: return nil
        }
        let e = row.event
        let have: [StressOp] = present ? [] : [.add(v), .wait(ms: 200)]
        let ops: [StressOp]
        if e == "UserAdd" { ops = setup + [.add(v)] }
        else if e == "UserKill" {
            // A second kill needs the VLAN device back, which moves the filter on first.
            guard row.from != "REMOVE" && row.from != "REMOVING" else { return nil }
            ops = setup + [.del(v)]
        }
        else if e == "Down" { ops = setup + [.down, .up] }
        else if e == "Open" || e == "Up" { ops = [.down] + setup + [.up] }
        else if e == "CfgResp" {
            switch row.from {
            case "ADD": ops = (present ? [.del(v), .wait(ms: 200)] : []) + [.pfReset, .add(v)]
            case "ADDING", "IS_NEW": ops = (present ? [.del(v), .wait(ms: 200)] : []) + [.add(v), .wait(ms: 5), .pfReset]
            case "DISABLE", "INACTIVE": ops = setup + [.pfReset]
            case "ACTIVE": ops = have + [.pfReset]
            case "REMOVE": ops = have + [.pfReset, .del(v)]
            case "REMOVING": ops = have + [.del(v), .wait(ms: 5), .pfReset]
            default: return nil
            }
        }
        else if e.hasPrefix("Cpl(ADD_VLAN_V2, err") { ops = [.rejectAdd] + setup + (row.from == "ADDING" ? [] : [.add(v)]) }
        else if e.hasPrefix("Cpl(DEL_VLAN"), e.hasSuffix("err)") { ops = [.rejectDel] + setup + [.wait(ms: 50)] }
        else if e.hasPrefix("Cpl(ADD_VLAN_V2") || e.hasPrefix("Cpl(DEL_VLAN") || e.hasPrefix("WdAdd") || e.hasPrefix("WdDel") {
            ops = setup + [.wait(ms: 50)]
        } else { return nil }
        // A row whose ops need an excluded kind is out of reach for this campaign.
        return ops.contains { excluding.contains($0.kind) } || ops.isEmpty ? nil : ops
    }

    /// The seed of a search's sequence `k`: the seed itself first (the plain run's sequence),
    /// then a SplitMix64 stream from it.
    public static func searchSeed(_ seed: UInt64, _ k: Int) -> UInt64 {
        guard k > 0 else { return seed }
        var r = SplitMix64(seed: seed &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15)
        return r.next()
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
