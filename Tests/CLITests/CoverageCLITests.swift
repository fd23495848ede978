import Foundation
import Testing

@Suite("iavf-check coverage and check --coverage")
struct CoverageCLITests {
    @Test("check --coverage prints the coverage after the verdict; the exit code stays the verdict's")
    func checkCoverage() throws {
        let (code, out, _) = try iavfCheck(["check", "--coverage", "samples/patched-7-of-8.jsonl"])
        #expect(code == 0)
        let verdict = try #require(out.range(of: "verdict: PASS"))
        let cov = try #require(out.range(of: "coverage (patched): 7/41 rows"))
        #expect(verdict.upperBound < cov.lowerBound)
        #expect(out.contains("never hit (27):") && out.contains("| ADD      | UserKill"))
        let (fcode, _, _) = try iavfCheck(["check", "--coverage", "samples/unpatched-7-of-8.jsonl"])
        #expect(fcode == 1)
    }

    @Test("check --format json has a coverage object only with --coverage")
    func checkJSON() throws {
        let (_, plain, _) = try iavfCheck(["check", "--format", "json", "samples/patched-7-of-8.jsonl"])
        let p = try #require(try JSONSerialization.jsonObject(with: Data(plain.utf8)) as? [String: Any])
        #expect(p["coverage"] == nil)
        let (_, with, _) = try iavfCheck(["check", "--format", "json", "--coverage", "samples/patched-7-of-8.jsonl"])
        let w = try #require(try JSONSerialization.jsonObject(with: Data(with.utf8)) as? [String: Any])
        let tables = try #require((w["coverage"] as? [String: Any])?["tables"] as? [[String: Any]])
        #expect(tables.count == 1 && tables[0]["generation"] as? String == "patched" && tables[0]["rows_hit"] as? Int == 7)
        #expect(try iavfCheck(["check", "--format", "junit", "--coverage", "samples/patched-7-of-8.jsonl"]).0 == 2)
    }

    @Test("coverage merges traces per generation, text and json, and reads directories")
    func coverageCommand() throws {
        let (code, out, _) = try iavfCheck(["coverage", "samples/patched-7-of-8.jsonl", "samples/unpatched-7-of-8.jsonl",
                                            "samples/recorded-patched-S3-delete-during-reset.jsonl"])
        #expect(code == 0)
        #expect(out.contains("samples/unpatched-7-of-8.jsonl") && out.contains("  unpatched  fail  61 events, 8 rows hit\n"))
        #expect(out.contains("coverage (patched): ") && out.contains(" in 2 traces"))
        #expect(out.contains("coverage (unpatched): 8/49 rows (8/22 table lines) in 1 trace"))

        let (jcode, json, _) = try iavfCheck(["coverage", "--format", "json", "samples"])
        #expect(jcode == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let traces = try #require(obj["traces"] as? [[String: Any]])
        let samples = try FileManager.default.contentsOfDirectory(atPath: "samples").filter { $0.hasSuffix(".jsonl") }.count
        #expect(traces.count == samples)
        let tables = try #require((obj["coverage"] as? [String: Any])?["tables"] as? [[String: Any]])
        #expect(Set(tables.compactMap { $0["generation"] as? String }) == ["patched", "unpatched"])
        #expect(tables.reduce(0) { $0 + ($1["traces"] as? Int ?? 0) } == samples)

        #expect(try iavfCheck(["coverage"]).0 == 2)
        #expect(try iavfCheck(["coverage", "samples/no-such.jsonl"]).0 == 2)
    }

    @Test("watch takes --coverage (for suite run's guest)")
    func watchFlag() throws {
        let (code, help, _) = try iavfCheck(["watch", "--help"])
        #expect(code == 0 && help.contains("--coverage"))
    }

    @Test("coverage --model: the table's own title and rows for traces of its generation")
    func coverageModel() throws {
        let path = NSTemporaryDirectory() + "cov-delta-\(UUID().uuidString).model"
        try Data("""
        generation: patched
        delta: S3 fix

        | From             | Event   | To    | Side effects | Spec
        |------------------|---------|-------|--------------|-----
        | REMOVE, REMOVING | CfgResp | freed |              | S3 fix
        """.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (code, out, _) = try iavfCheck(["coverage", "--model", path, "samples/patched-7-of-8.jsonl", "samples/unpatched-7-of-8.jsonl"])
        #expect(code == 0)
        #expect(out.contains("coverage (patched, Patched (6.1.176 and later): spec section 2.3 with errata; delta: S3 fix): 7/41 rows"))
        #expect(out.contains("coverage (unpatched): 8/49 rows"))
    }
}
