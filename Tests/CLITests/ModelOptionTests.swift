import Foundation
import Testing

@Suite("--model: the checker follows a table the reviewer edited")
struct ModelOptionTests {
    @Test("model prints the table --model reads; a delta changes exactly its rows")
    func printAndRead() throws {
        let (code, table, _) = try iavfCheck(["model", "--model", "fixes/s3-caps-reply/s3-fix.model"])
        #expect(code == 0)
        #expect(table.contains("generation: patched"))
        #expect(table.contains("| REMOVE, REMOVING") && table.contains("S3 fix"))
        let builtIn = try iavfCheck(["model", "--generation", "patched"]).1
        #expect(table.split(separator: "\n").count == builtIn.split(separator: "\n").count + 1)
    }

    @Test("the stock patched driver's S3 trace diverges from the S3-fix model; the pass trace does not")
    func checkAgainstDelta() throws {
        let fix = "fixes/s3-caps-reply/s3-fix.model"
        let (code, out, _) = try iavfCheck(["check", "--model", fix, "samples/recorded-patched-S3-delete-during-reset.jsonl"])
        #expect(code == 1)
        #expect(out.contains("state-divergence"), "the unfixed driver re-sends the VLAN the fixed model dropped")
        #expect(try iavfCheck(["check", "--model", fix, "samples/patched-7-of-8.jsonl"]).0 == 0)
    }

    @Test("a model of the other generation, or a bad model, is bad input (exit 2) naming file and line")
    func badModel() throws {
        let (code, _, err) = try iavfCheck(["check", "--model", "fixes/s3-caps-reply/s3-fix.model", "samples/unpatched-7-of-8.jsonl"])
        #expect(code == 2 && err.contains("the trace is unpatched") && err.contains(":1:"))
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(getpid()).model")
        try "generation: patched\ndelta: x\n| From | Event | To | Side effects | Spec\n| INACTIVE | Open | ADD | | x\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: bad) }
        let (c2, _, e2) = try iavfCheck(["check", "--model", bad.path, "samples/patched-7-of-8.jsonl"])
        #expect(c2 == 2 && e2.contains("\(bad.path):4:") && e2.contains("not a state of the patched driver"))
        #expect(try iavfCheck(["model", "--model", "/nonexistent.model"]).0 == 2)
        // The commands that boot guests refuse a bad model before they build or boot anything.
        for cmd in [["suite", "run"], ["stress", "--replay", "add 100"], ["bench", "downup"]] {
            let (c, _, e) = try iavfCheck(cmd + ["--model", bad.path])
            #expect(c == 2 && e.contains("\(bad.path):4:"), "\(cmd): \(c) \(e)")
        }
    }
}
