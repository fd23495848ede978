/// The vocabulary of the transition tables and their look-up. The tables themselves are text
/// (BuiltInTables.swift, ModelText.swift): iavf-vlan-state-machine.md sections 2.2
/// (unpatched) and 2.3 (patched) with its Errata applied, each row naming the spec row it
/// comes from. The engine in `ReferenceModel` only looks rows up; it holds no per-state
/// logic of its own.

/// What happens to one filter.
public enum Stimulus: Int, Sendable, CaseIterable {
    case userAdd, userKill, wdAddChosen, wdAddNotAllowed, wdDelChosen, wdDelNotAllowed
    case addV2Success, addV2Error, addV1Success, addV1Error, delSuccess, delError
    case down, open, configReply, disableVF

    /// The spec's name for the event (section 2.1).
    public var name: String {
        switch self {
        case .userAdd: return "UserAdd"
        case .userKill: return "UserKill"
        case .wdAddChosen: return "WdAdd, chosen"
        case .wdAddNotAllowed: return "WdAdd, not allowed"
        case .wdDelChosen: return "WdDel, chosen"
        case .wdDelNotAllowed: return "WdDel, not allowed"
        case .addV2Success: return "Cpl(ADD_VLAN_V2, 0)"
        case .addV2Error: return "Cpl(ADD_VLAN_V2, err)"
        case .addV1Success: return "Cpl(ADD_VLAN, 0)"
        case .addV1Error: return "Cpl(ADD_VLAN, err)"
        case .delSuccess: return "Cpl(DEL_VLAN[_V2], 0)"
        case .delError: return "Cpl(DEL_VLAN[_V2], err)"
        case .down: return "Down"
        case .open: return "Open"
        case .configReply: return "CfgResp"
        case .disableVF: return "DisableVF"
        }
    }
}

/// The state a row starts from: no filter for the key, or a filter in a state.
public enum FromState: Hashable, Sendable, CustomStringConvertible {
    case absent
    case state(FilterState)

    public var description: String {
        switch self {
        case .absent: return "(none)"
        case .state(let s): return s.rawValue
        }
    }
}

/// Where a row leaves the filter.
public enum Target: Hashable, Sendable, CustomStringConvertible {
    case unchanged
    case state(FilterState)
    /// Unlinked and freed; `num_vlan_filters` drops by one.
    case freed

    public var description: String {
        switch self {
        case .unchanged: return "unchanged"
        case .state(let s): return s.rawValue
        case .freed: return "freed"
        }
    }
}

/// Side effects a row has besides the filter's state.
public enum Effect: String, Sendable {
    /// `IAVF_FLAG_AQ_ADD_VLAN_FILTER` set and the watchdog kicked.
    case addBit = "ADD bit"
    /// `IAVF_FLAG_AQ_DEL_VLAN_FILTER` set and the watchdog kicked.
    case delBit = "DEL bit"
    /// A new entry is linked at the tail; `num_vlan_filters` + 1.
    case linkAtTail = "link at tail, count+1"
    /// The VID goes into the message being built.
    case inMessage = "VID in message"
}

public struct Transition: Sendable {
    public let from: [FromState]
    public let on: Stimulus
    public let to: Target
    public let effects: [Effect]
    /// Where the row comes from in iavf-vlan-state-machine.md.
    public let spec: String

    init(_ from: [FromState], _ on: Stimulus, _ to: Target, _ effects: [Effect] = [], spec: String) {
        self.from = from
        self.on = on
        self.to = to
        self.effects = effects
        self.spec = spec
    }
}

public enum TransitionTable {
    /// The states a generation's enum has (INVALID is "being created" and never a row).
    public static func states(_ g: Generation) -> [FilterState] {
        switch g {
        case .unpatched: return [.ADD, .IS_NEW, .ACTIVE, .DISABLE, .INACTIVE, .REMOVE]
        case .patched: return [.ADD, .ADDING, .ACTIVE, .REMOVE, .REMOVING]
        }
    }

    /// The built-in rows of a generation (BuiltInTables.swift, as text).
    public static func rows(_ g: Generation) -> [Transition] { ModelTable.builtIn(g).rows }

    public static var unpatched: [Transition] { rows(.unpatched) }
    public static var patched: [Transition] { rows(.patched) }

    /// The row for a filter in `from` receiving `on`, or nil when the table has none
    /// (then nothing happens to that filter).
    @inline(__always)
    public static func row(_ g: Generation, from: FromState, on: Stimulus) -> Transition? {
        builtIn[g.index].row(from: from, on: on)
    }

    /// The states a watchdog message of this kind selects (rows with `.inMessage`).
    public static func selectable(_ g: Generation, for s: Stimulus) -> Set<FilterState> {
        CompiledTable.selectable(rows(g), s)
    }

    /// The built-in tables, indexed for the hot path.
    static let builtIn: [CompiledTable] = Generation.allCases.map { ModelTable.builtIn($0).compiled }

    /// The table a model of generation `g` uses: the built-in one unless a test installed
    /// another with `withRows`.
    static func compiled(_ g: Generation) -> CompiledTable {
        if let o = override, o.generation == g { return o }
        return builtIn[g.index]
    }

    /// Test seam (mutation tests): models of generation `g` created inside `body`, on this
    /// task, use `rows` instead of the built-in table. A task-local, so tests running in
    /// parallel and every other use of the model see the built-in tables.
    @TaskLocal static var override: CompiledTable?

    public static func withRows<T>(_ rows: [Transition], for g: Generation, _ body: () throws -> T) rethrows -> T {
        try $override.withValue(CompiledTable(g, rows: rows, title: "test rows"), operation: body)
    }
}

/// One generation's rows indexed by (from, stimulus), with the watchdog's selection masks
/// and the coverage cells: every (From state, Event) pair a row names gets a dense index,
/// so a model counts the rows it applies in a flat array (`ReferenceModel.rowHits`).
final class CompiledTable: Sendable {
    let generation: Generation
    /// The table's title (ModelTable.title), naming it in coverage reports.
    let title: String
    /// The rows, in table order.
    let rows: [Transition]
    /// [from * stimuli + stimulus]
    private let flat: [Transition?]
    /// The coverage cell of each slot of `flat` (-1: no row).
    private let cellOfSlot: [Int32]
    /// The coverage cells in table order: the row's index in `rows` and the one From state.
    let cells: [(row: Int, from: FromState)]
    /// `selectable` as a bit per state ordinal: [ADD message, DEL message].
    let addMask: UInt16, delMask: UInt16
    /// What the engine needs of the row in each slot of `flat`, as plain values: copying
    /// a `Transition` (three references) cost more than applying it.
    struct Step {
        let to: Target
        let addBit: Bool
        let delBit: Bool
        let cell: Int
    }
    private let steps: [Step?]
    private let stimuli = Stimulus.allCases.count

    init(_ g: Generation, rows: [Transition], title: String = "") {
        generation = g
        self.title = title
        self.rows = rows
        var m = [Transition?](repeating: nil, count: (FilterState.allCases.count + 1) * Stimulus.allCases.count)
        var cellOf = [Int32](repeating: -1, count: m.count)
        var cells: [(row: Int, from: FromState)] = []
        for (n, r) in rows.enumerated() {
            for f in r.from {
                let i = f.index * Stimulus.allCases.count + r.on.index
                precondition(m[i] == nil, "two rows for \(f) \(r.on) in \(g)")
                m[i] = r
                cellOf[i] = Int32(cells.count)
                cells.append((n, f))
            }
        }
        flat = m
        cellOfSlot = cellOf
        steps = zip(m, cellOf).map { r, c in
            r.map { Step(to: $0.to, addBit: $0.effects.contains(.addBit), delBit: $0.effects.contains(.delBit), cell: Int(c)) }
        }
        self.cells = cells
        func mask(_ s: Stimulus) -> UInt16 { Self.selectable(rows, s).reduce(UInt16(0)) { $0 | (1 << $1.ordinal) } }
        addMask = mask(.wdAddChosen)
        delMask = mask(.wdDelChosen)
    }

    @inline(__always)
    func row(from: FromState, on: Stimulus) -> Transition? { flat[from.index * Stimulus.allCases.count + on.index] }

    /// The step of the row for (from, on), with its coverage cell.
    @inline(__always)
    func step(from: FromState, on: Stimulus) -> Step? { steps[from.index * stimuli + on.index] }

    /// The row and its coverage cell (for `ReferenceModel` to count what it applies).
    @inline(__always)
    func rowAndCell(from: FromState, on: Stimulus) -> (row: Transition, cell: Int)? {
        let i = from.index * Stimulus.allCases.count + on.index
        guard let r = flat[i] else { return nil }
        return (r, Int(cellOfSlot[i]))
    }

    @inline(__always)
    func selectableMask(add: Bool) -> UInt16 { add ? addMask : delMask }

    static func selectable(_ rows: [Transition], _ s: Stimulus) -> Set<FilterState> {
        var out = Set<FilterState>()
        for r in rows where r.on == s && r.effects.contains(.inMessage) {
            for f in r.from { if case .state(let st) = f { out.insert(st) } }
        }
        return out
    }
}

extension Generation {
    var index: Int { self == .unpatched ? 0 : 1 }
}


extension FromState {
    @inline(__always)
    var index: Int {
        switch self {
        case .absent: return 0
        case .state(let s): return s.ordinal + 1
        }
    }
}

extension Stimulus {
    @inline(__always) var index: Int { rawValue }
}

extension FilterState {
    @inline(__always) public var ordinal: Int {
        switch self {
        case .INVALID: return 0
        case .ADD: return 1
        case .IS_NEW: return 2
        case .ADDING: return 3
        case .ACTIVE: return 4
        case .DISABLE: return 5
        case .INACTIVE: return 6
        case .REMOVE: return 7
        case .REMOVING: return 8
        }
    }
}

/// What the adapter does as a whole on an event, beside the per-filter rows
/// (sections 1.5, 2.1, 2.5 and 7). Also data, for `iavf-check model` to print.
public struct DeviceRule: Sendable {
    public let event: String
    public let unpatched: String
    public let patched: String
}

public enum DeviceRules {
    public static let all: [DeviceRule] = [
        .init(event: "UserAdd, vid 0", unpatched: "return 0, nothing tracked", patched: "same"),
        .init(event: "UserAdd, count >= max (before the lookup)", unpatched: "return -EIO, list unchanged", patched: "same"),
        .init(event: "WdAdd (ADD bit, no current_op)",
              unpatched: "ADD filters in list order; V1 <= 2045 VIDs, V2 <= 127 else 126; V2 clamp: if c + n > M and n < M send M - n; ADD bit cleared when all fitted; current_op = ADD_VLAN(_V2)",
              patched: "same"),
        .init(event: "WdDel (DEL bit, no current_op)",
              unpatched: "DISABLE and REMOVE filters in list order, same capacity; DEL bit cleared when all fitted; current_op = DEL_VLAN(_V2)",
              patched: "REMOVE filters only; otherwise the same"),
        .init(event: "Cpl(op, rv)", unpatched: "current_op = 0; the rows apply to every filter in the in-flight state", patched: "same"),
        .init(event: "Down (state > DOWN_PENDING)", unpatched: "current_op = 0; DEL bit if the list is non-empty", patched: "current_op = 0; no VLAN bits"),
        .init(event: "Close", unpatched: "aq_required masked around iavf_down; afterwards the ADD bit is not restored", patched: "same (S1)"),
        .init(event: "Open (exit, ret 0)", unpatched: "ADD bit set unconditionally (iavf_restore_filters)", patched: "nothing"),
        .init(event: "Reset", unpatched: "aq_required = 0, current_op = 0; in-flight reply lost", patched: "same"),
        .init(event: "CfgResp", unpatched: "V1: the GET_VF_RESOURCES reply; V2: the GET_OFFLOAD_VLAN_V2_CAPS reply; whatever its retval", patched: "same"),
    ]
}
