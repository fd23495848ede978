import Foundation
import IavfChecker
import IavfModel
import IavfTrace
import Testing

/// Checks trace text (the sample format) from a temporary file.
private func checkText(_ text: String, table: ModelTable? = nil) throws -> CheckReport {
    let path = NSTemporaryDirectory() + "coverage-\(UUID().uuidString).jsonl"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try CoverageDocument.check(path: path, table: table)
}

private func sampleText(_ name: String) throws -> String {
    try String(contentsOfFile: packageRoot.appendingPathComponent("samples/\(name)").path, encoding: .utf8)
}

extension ModelCoverage.Table {
    /// `From | Event | To` of the rows hit, with their counts.
    var hitRows: [String: UInt64] {
        Dictionary(uniqueKeysWithValues: rows.filter { $0.hits > 0 }.map { ($0.id, $0.hits) })
    }
    func rule(_ r: Rule) -> ModelCoverage.RuleCount? { rules.first { $0.rule == r.rawValue } }
}

@Suite("Model coverage: rows hit and rules evaluated")
struct CoverageTests {
    @Test("patched 7-of-8 hits exactly the rows of add, send, ACK, delete, down, DEL reply")
    func patchedSample() throws {
        let cov = try checkSample("patched-7-of-8.jsonl").coverage
        #expect(cov.tables.count == 1)
        let t = try #require(cov.tables.first)
        #expect(t.generation == "patched" && t.title == ModelTable.builtIn(.patched).title && t.traces == 1)
        #expect(t.rowsTotal == 41 && t.linesTotal == 21)
        #expect(t.hitRows == [
            "(none) | UserAdd | ADD": 9,
            "ADD | WdAdd, chosen | ADDING": 9,
            "ADDING | Cpl(ADD_VLAN_V2, 0) | ACTIVE": 9,
            "ACTIVE | UserKill | REMOVE": 1,
            "REMOVE | Down | unchanged": 1,
            "REMOVE | WdDel, chosen | REMOVING": 1,
            "REMOVING | Cpl(DEL_VLAN[_V2], 0) | freed": 1,
        ])
        #expect(t.rowsHit == 7 && t.linesHit == 7)
        // Spec provenance travels with the row, as the model text prints it.
        let del = try #require(t.rows.first { $0.id == "REMOVE | WdDel, chosen | REMOVING" })
        #expect(del.spec == "2.3 REMOVE WdDel, chosen" && del.effects == "VID in message")
        // Rules: 18 snapshots, 3 VLAN sends; one DEL with the PF for two events (its send and
        // the snapshot after it); no refused DEL, no -EIO.
        #expect(t.rule(.countMismatch) == .init(rule: "count-mismatch", evaluated: 18, fired: 0))
        #expect(t.rule(.stateDivergence)?.evaluated == 21)
        #expect(t.rule(.prematureFree)?.evaluated == 2)
        #expect(t.rule(.untrackedHwFilter)?.evaluated == 0 && t.rule(.spuriousLimitReject)?.evaluated == 0)
        #expect(t.rules.map(\.rule) == Rule.allCases.map(\.rawValue))
    }

    @Test("unpatched 7-of-8 goes through R1: REMOVE -> DISABLE at the down, INACTIVE -> ADD at open; the ghost rule fires")
    func unpatchedSample() throws {
        let t = try #require(try checkSample("unpatched-7-of-8.jsonl").coverage.tables.first)
        #expect(t.generation == "unpatched" && t.rowsTotal == 49 && t.linesTotal == 22)
        #expect(t.hitRows["REMOVE | Down | DISABLE"] == 1)
        #expect(t.hitRows["DISABLE | WdDel, chosen | INACTIVE"] == 1)
        #expect(t.hitRows["INACTIVE | Open | ADD"] == 1)
        #expect(t.hitRows["REMOVE | WdDel, chosen | freed"] == nil)
        #expect(t.rule(.ghostFilter)?.fired == 1 && (t.rule(.ghostFilter)?.evaluated ?? 0) >= 1)
        #expect(t.rule(.spuriousLimitReject) == .init(rule: "spurious-limit-reject", evaluated: 1, fired: 1))
    }

    @Test("every built-in row is a coverage row per From state, named as the model text prints it")
    func rowsAreTheTable() {
        for g in Generation.allCases {
            let table = ModelTable.builtIn(g)
            let rows = ReferenceModel(generation: g).coverageRows()
            #expect(rows.count == table.rows.reduce(0) { $0 + $1.from.count })
            #expect(Set(rows.map(\.id)).count == rows.count, "row ids are unique")
            let text = ModelText.render(table)
            for r in rows {
                #expect(text.contains(r.spec) && text.contains(r.event))
                #expect(table.rows[r.line - 1].from.map(\.description).contains(r.from))
            }
            #expect(rows.allSatisfy { $0.hits == 0 })
        }
    }

    @Test("a mutated trace hits a different row: the PF refuses the DEL")
    func mutatedTrace() throws {
        let text = try sampleText("patched-7-of-8.jsonl")
        let refused = text.replacingOccurrences(of: #""seq":19,"t_ns":141108600,"dev":"eth0","ev":"reply","op":"DEL_VLAN_V2","retval":0"#,
                                                with: #""seq":19,"t_ns":141108600,"dev":"eth0","ev":"reply","op":"DEL_VLAN_V2","retval":-5"#)
        #expect(refused != text)
        let t = try #require(try checkText(refused).coverage.tables.first)
        #expect(t.hitRows["REMOVING | Cpl(DEL_VLAN[_V2], err) | ACTIVE"] == 1)
        #expect(t.hitRows["REMOVING | Cpl(DEL_VLAN[_V2], 0) | freed"] == nil)
        // One VLAN awaited the refused DEL: one chance for each of the two DEL-refusal rules.
        #expect(t.rule(.untrackedHwFilter)?.evaluated == 1 && t.rule(.pfRefusedDelete)?.evaluated == 1)
    }

    @Test("merge: associative, per table; the same trace twice hits the same rows with doubled counts")
    func merge() throws {
        let a = try checkSample("patched-7-of-8.jsonl").coverage
        let b = try checkSample("unpatched-7-of-8.jsonl").coverage
        let c = try checkSample("recorded-patched-S3-delete-during-reset.jsonl").coverage
        #expect(a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c)))
        #expect(ModelCoverage.merging([a, b, c]) == a.merged(with: b).merged(with: c))
        let abc = a.merged(with: b).merged(with: c)
        #expect(abc.tables.map(\.generation) == ["patched", "unpatched"])
        #expect(abc.tables[0].traces == 2 && abc.tables[1].traces == 1)
        #expect(abc.tables[0].rowsHit >= max(a.tables[0].rowsHit, c.tables[0].rowsHit))

        let aa = a.merged(with: a)
        #expect(aa.tables.count == 1 && aa.tables[0].traces == 2)
        #expect(Set(aa.tables[0].hitRows.keys) == Set(a.tables[0].hitRows.keys))
        #expect(aa.tables[0].rowsHit == a.tables[0].rowsHit && aa.tables[0].rowsTotal == a.tables[0].rowsTotal)
        #expect(aa.tables[0].hitRows == a.tables[0].hitRows.mapValues { $0 * 2 })
        #expect(zip(aa.tables[0].rules, a.tables[0].rules).allSatisfy { $0.evaluated == 2 * $1.evaluated && $0.fired == 2 * $1.fired })
        #expect(ModelCoverage().merged(with: a) == a && a.merged(with: ModelCoverage()) == a)
    }

    @Test("a --model table is its own entry, named by its title, with its own rows")
    func modelTable() throws {
        let delta = """
        generation: patched
        delta: drop filters being removed at the caps reply

        | From             | Event   | To    | Side effects | Spec
        |------------------|---------|-------|--------------|-----
        | REMOVE, REMOVING | CfgResp | freed |              | S3 fix
        """
        let table = try ModelText.parse(delta, file: "s3-fix.model")
        let withModel = try checkText(try sampleText("recorded-patched-S3-delete-during-reset.jsonl"), table: table).coverage
        let builtIn = try checkSample("recorded-patched-S3-delete-during-reset.jsonl").coverage
        let t = try #require(withModel.tables.first)
        #expect(t.title.hasSuffix("delta: drop filters being removed at the caps reply"))
        #expect(t.rows.contains { $0.id == "REMOVING | CfgResp | freed" && $0.spec == "S3 fix" })
        #expect(!t.rows.contains { $0.id == "REMOVING | CfgResp | ADD" })
        #expect(withModel.merged(with: builtIn).tables.count == 2)
        // A table on a trace of the other generation is not used: the built-in one is.
        let other = try checkText(try sampleText("unpatched-7-of-8.jsonl"), table: table).coverage
        #expect(other.tables.first?.title == ModelTable.builtIn(.unpatched).title)
    }

    @Test("generation unknown: no table, rules only")
    func unknownGeneration() throws {
        let text = try sampleText("patched-7-of-8.jsonl").replacingOccurrences(of: #""generation":"patched""#, with: #""generation":"unknown""#)
        let t = try #require(try checkText(text).coverage.tables.first)
        #expect(t.generation == "unknown" && t.rows.isEmpty && t.rule(.countMismatch)?.evaluated == 18)
        #expect(t.rule(.stateDivergence)?.evaluated == 0)
        #expect(ModelCoverage(tables: [t]).text().contains("coverage (unknown): no table"))
    }

    @Test("JSON: coverage round-trips; the check report carries it only when asked")
    func json() throws {
        let r = try checkSample("unpatched-7-of-8.jsonl")
        let plain = CheckReportDocument(r, model: r.model).encoded()
        #expect(plain == ReportRenderer.render(r, format: .json, traceName: "t"))
        #expect(!plain.contains("\"coverage\""))
        let with = ReportRenderer.render(r, format: .json, traceName: "t", coverage: true)
        let doc = try CheckReportDocument.decode(Data(with.utf8))
        #expect(doc.coverage == r.coverage)
        #expect(doc == CheckReportDocument(r, coverage: true))
        let any = try #require(try JSONSerialization.jsonObject(with: Data(with.utf8)) as? [String: Any])
        let tables = try #require((any["coverage"] as? [String: Any])?["tables"] as? [[String: Any]])
        #expect(tables.first?["rows_hit"] as? Int == 8 && tables.first?["rows_total"] as? Int == 49)
        let row = try #require((tables.first?["rows"] as? [[String: Any]])?.first)
        for k in ["from", "event", "to", "effects", "spec", "line", "hits"] { #expect(row[k] != nil, "row lacks \(k)") }

        var cd = CoverageDocument()
        cd.add(r, trace: "samples/unpatched-7-of-8.jsonl")
        cd.add(try checkSample("patched-7-of-8.jsonl"), trace: "samples/patched-7-of-8.jsonl")
        #expect(try CoverageDocument.decode(Data(cd.encoded().utf8)) == cd)
        #expect(cd.traces.map(\.rowsHit) == [8, 7])
    }

    @Test("text: headline, rows never hit in the model's row notation, rules")
    func text() throws {
        let s = try checkSample("patched-7-of-8.jsonl").coverage.text()
        #expect(s.hasPrefix("coverage (patched): 7/41 rows (7/21 table lines) in 1 trace\n"))
        #expect(s.contains("| REMOVING | Cpl(DEL_VLAN[_V2], err) | ACTIVE    |              | 2.3 REMOVING Cpl(DEL_VLAN*, err)"))
        #expect(!s.contains("| REMOVE   | WdDel, chosen"))
        #expect(s.contains("no trace event drives them (7)"))
        #expect(s.contains("premature-free          2 / 0"))
    }
}
