/// Model coverage (docs/coverage.md): which rows of the transition tables the checked traces
/// exercised, and how often each spec rule was evaluated with a chance to fire and fired.
///
/// A coverage row is one (From state, Event) pair of a table: a table line that names several
/// From states ("ADD, ADDING, ACTIVE | UserAdd | unchanged") is that many coverage rows, since
/// each is its own path through the driver. A row is identified by its text, as the model text
/// prints it (`From | Event | To`), so coverage from different traces, runs and machines merges
/// by name, and a reviewer reads it against docs/models.md. Tables are told apart by
/// generation and title (a `--model` table has its own title).
public struct ModelCoverage: Codable, Sendable, Equatable {
    /// One (From state, Event) row of a table and how often a model applied it.
    public struct Row: Codable, Sendable, Equatable {
        /// One From state: a state name or `(none)`.
        public var from: String
        /// The event, as the table names it (`UserKill`, `Cpl(DEL_VLAN[_V2], err)`).
        public var event: String
        /// `unchanged`, `freed`, or a state.
        public var to: String
        /// Side effects, as the table prints them (`; `-separated).
        public var effects: String
        /// The row's Spec cell: where it comes from.
        public var spec: String
        /// The table line (1-based, in table order) this row is part of.
        public var line: Int
        public var hits: UInt64

        public init(from: String, event: String, to: String, effects: String, spec: String, line: Int, hits: UInt64) {
            self.from = from
            self.event = event
            self.to = to
            self.effects = effects
            self.spec = spec
            self.line = line
            self.hits = hits
        }

        /// The row's identity across traces and machines.
        public var id: String { "\(from) | \(event) | \(to)" }

        /// Whether any trace event drives the row (docs/models.md: the watchdog's "not allowed"
        /// rows and DisableVF have no trace event today).
        public var drivenByTrace: Bool { !ModelCoverage.undriven.contains(event) }
    }

    /// A spec rule: how often it was evaluated with a chance to fire, and how often it fired
    /// (findings). docs/coverage.md defines "evaluated" rule by rule.
    public struct RuleCount: Codable, Sendable, Equatable {
        public var rule: String
        public var evaluated: Int
        public var fired: Int

        public init(rule: String, evaluated: Int, fired: Int) {
            self.rule = rule
            self.evaluated = evaluated
            self.fired = fired
        }
    }

    /// The coverage of one table (a generation's built-in one, or a `--model` table), or of
    /// the traces with generation `unknown` (no table: rules only).
    public struct Table: Codable, Sendable, Equatable {
        /// `unpatched`, `patched` or `unknown`.
        public var generation: String
        public var title: String
        /// Traces merged into this table.
        public var traces: Int
        /// Every row of the table, in table order, hit or not.
        public var rows: [Row]
        public var rules: [RuleCount]

        public init(generation: String, title: String, traces: Int, rows: [Row], rules: [RuleCount]) {
            self.generation = generation
            self.title = title
            self.traces = traces
            self.rows = rows
            self.rules = rules
        }

        public var rowsHit: Int { rows.reduce(0) { $0 + ($1.hits > 0 ? 1 : 0) } }
        public var rowsTotal: Int { rows.count }
        public var neverHit: [Row] { rows.filter { $0.hits == 0 } }
        /// Table lines (as printed, several From states to a line) with at least one row hit.
        public var linesHit: Int { Set(rows.filter { $0.hits > 0 }.map(\.line)).count }
        public var linesTotal: Int { Set(rows.map(\.line)).count }

        enum CodingKeys: String, CodingKey {
            case generation, title, traces, rows, rules
            case rowsHit = "rows_hit", rowsTotal = "rows_total", linesHit = "lines_hit", linesTotal = "lines_total"
        }

        // The totals are written for readers of the JSON and recomputed when read.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(generation, forKey: .generation)
            try c.encode(title, forKey: .title)
            try c.encode(traces, forKey: .traces)
            try c.encode(rowsHit, forKey: .rowsHit)
            try c.encode(rowsTotal, forKey: .rowsTotal)
            try c.encode(linesHit, forKey: .linesHit)
            try c.encode(linesTotal, forKey: .linesTotal)
            try c.encode(rows, forKey: .rows)
            try c.encode(rules, forKey: .rules)
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            generation = try c.decode(String.self, forKey: .generation)
            title = try c.decode(String.self, forKey: .title)
            traces = try c.decode(Int.self, forKey: .traces)
            rows = try c.decode([Row].self, forKey: .rows)
            rules = try c.decode([RuleCount].self, forKey: .rules)
        }

        /// Adds another run's counts of the same table: rows and rules by name, new ones
        /// appended in the order first seen.
        public mutating func merge(_ o: Table) {
            traces += o.traces
            var at: [String: Int] = [:]
            for (i, r) in rows.enumerated() { at[r.id] = i }
            for r in o.rows {
                if let i = at[r.id] { rows[i].hits &+= r.hits } else { at[r.id] = rows.count; rows.append(r) }
            }
            var ruleAt: [String: Int] = [:]
            for (i, r) in rules.enumerated() { ruleAt[r.rule] = i }
            for r in o.rules {
                if let i = ruleAt[r.rule] {
                    rules[i].evaluated += r.evaluated
                    rules[i].fired += r.fired
                } else {
                    ruleAt[r.rule] = rules.count
                    rules.append(r)
                }
            }
        }
    }

    /// One entry per table, in the order first seen.
    public var tables: [Table]

    public init(tables: [Table] = []) { self.tables = tables }

    /// Events no trace event drives today (docs/models.md, "What the model keeps beside the rows").
    public static let undriven: Set<String> = [Stimulus.wdAddNotAllowed.name, Stimulus.wdDelNotAllowed.name, Stimulus.disableVF.name]

    /// Adds another run's coverage: tables matched by generation and title.
    public mutating func merge(_ o: ModelCoverage) {
        for t in o.tables {
            if let i = tables.firstIndex(where: { $0.generation == t.generation && $0.title == t.title }) {
                tables[i].merge(t)
            } else {
                tables.append(t)
            }
        }
    }

    public func merged(with o: ModelCoverage) -> ModelCoverage {
        var m = self
        m.merge(o)
        return m
    }

    /// Several runs' coverage merged, in order.
    public static func merging<S: Sequence>(_ all: S) -> ModelCoverage where S.Element == ModelCoverage {
        all.reduce(into: ModelCoverage()) { $0.merge($1) }
    }
}

extension ReferenceModel {
    /// The model's table as coverage rows, with the counts of the rows this model applied.
    public func coverageRows() -> [ModelCoverage.Row] {
        Self.coverageRows(table, hits: rowHits)
    }

    /// The title of the table the model follows.
    public var tableTitle: String { table.title }

    /// The counts of several models of the same table (the devices of one trace), added.
    public static func coverageRows(of models: [ReferenceModel]) -> [ModelCoverage.Row] {
        guard let first = models.first else { return [] }
        var hits = first.rowHits
        for m in models.dropFirst() where m.table === first.table {
            for i in hits.indices { hits[i] &+= m.rowHits[i] }
        }
        return coverageRows(first.table, hits: hits)
    }

    static func coverageRows(_ t: CompiledTable, hits: [UInt64]) -> [ModelCoverage.Row] {
        t.cells.enumerated().map { c, cell in
            let r = t.rows[cell.row]
            return ModelCoverage.Row(from: cell.from.description, event: r.on.name, to: r.to.description,
                                     effects: r.effects.map(\.rawValue).joined(separator: "; "), spec: r.spec,
                                     line: cell.row + 1, hits: hits[c])
        }
    }
}

// MARK: text

extension ModelCoverage {
    /// For people: per table `coverage (patched): 23/41 rows`, the rows never hit in the
    /// model text's notation (one From state a row, as a `--model` delta writes them), and
    /// the rules evaluated and fired.
    public func text(indent: String = "") -> String {
        var s = ""
        for t in tables {
            s += indent + Self.headline(t) + "\n"
            guard t.generation != "unknown" || !t.rows.isEmpty else {
                s += indent + "  (generation unknown: no model, rules only)\n"
                s += rulesText(t, indent: indent + "  ")
                continue
            }
            let never = t.neverHit
            let undriven = never.filter { !$0.drivenByTrace }
            let missed = never.filter(\.drivenByTrace)
            if missed.isEmpty {
                s += indent + "  every row a trace event drives was hit\n"
            } else {
                s += indent + "  never hit (\(missed.count)):\n"
                var grid: [[String]] = [["From", "Event", "To", "Side effects", "Spec"]]
                for r in missed { grid.append([r.from, r.event, r.to, r.effects, r.spec]) }
                for line in ModelText.grid(grid).split(separator: "\n") { s += indent + "    " + line + "\n" }
            }
            if !undriven.isEmpty {
                s += indent + "  never hit, no trace event drives them (\(undriven.count)): "
                    + undriven.map { "\($0.from) \($0.event)" }.joined(separator: "; ") + "\n"
            }
            s += rulesText(t, indent: indent + "  ")
        }
        return s
    }

    /// `coverage (patched): 23/41 rows (15/21 table lines) in 3 traces`.
    public static func headline(_ t: Table) -> String {
        let builtIn = Generation(rawValue: t.generation).map { ModelTable.builtIn($0).title == t.title } ?? true
        let name = builtIn ? t.generation : "\(t.generation), \(t.title)"
        let traces = "in \(t.traces) trace\(t.traces == 1 ? "" : "s")"
        if t.rows.isEmpty { return "coverage (\(name)): no table, \(traces)" }
        return "coverage (\(name)): \(t.rowsHit)/\(t.rowsTotal) rows (\(t.linesHit)/\(t.linesTotal) table lines) \(traces)"
    }

    private func rulesText(_ t: Table, indent: String) -> String {
        guard !t.rules.isEmpty else { return "" }
        var s = indent + "rules (evaluated with a chance to fire / fired):\n"
        let w = t.rules.map(\.rule.count).max() ?? 0
        let we = t.rules.map { String($0.evaluated).count }.max() ?? 0
        for r in t.rules {
            let e = String(r.evaluated)
            s += indent + "  " + r.rule + String(repeating: " ", count: w - r.rule.count) + "  "
                + String(repeating: " ", count: we - e.count) + e + " / \(r.fired)" + (r.evaluated == 0 ? "  (never evaluated)" : "") + "\n"
        }
        return s
    }
}
