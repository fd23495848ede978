import Foundation
import Testing

@Suite("merge as a user runs it")
struct MergeCLITests {
    @Test("merging two stress shards prints the table and exits 1 for a failing seed; junit is well-formed; a bad file exits 2")
    func merge() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("merge-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func shard(_ i: Int, seed: Int, fail: Bool) throws -> String {
            let report = """
            {"kernel":"patched","release":"6.1.0-56-amd64","report":{"kernel":"patched","generation":"patched","seed":\(seed),
             "ops":["add 102","pf-reset","del 102"],"outcomes":["ok","ok","ok"],"verdict":"\(fail ? "fail" : "pass")","settled":true,
             "findings":[],\(fail ? "\"target\":\"resurrected-filter(S3)\",\"minimal\":[\"add 102\",\"pf-reset\",\"del 102\"],\"confirmed\":3,\"confirmRuns\":3," : "")
             "shrinkRuns":0,"trace":"/t","seconds":12}}
            """
            let p = "\(dir)/s\(i).json"
            try Data("{\"seeds\":{\"first\":1,\"last\":2},\"shard\":{\"index\":\(i),\"count\":2},\"results\":[\(report)]}".utf8)
                .write(to: URL(fileURLWithPath: p))
            return p
        }
        let a = try shard(1, seed: 1, fail: false), b = try shard(2, seed: 2, fail: true)
        let (code, out, err) = try iavfCheck(["merge", b, a, "-o", "\(dir)/merged.json"])
        #expect(code == 1, "\(err)")
        #expect(out.contains("=== stress patched: 2 runs, 1 with a violation"))
        #expect(out.contains("--replay 'add 102; pf-reset; del 102'"))
        #expect(FileManager.default.fileExists(atPath: "\(dir)/merged.json"))
        let (jcode, junit, _) = try iavfCheck(["merge", a, b, "--format", "junit"])
        #expect(jcode == 1 && junit.contains("<testsuites") && junit.contains("<failure"))
        try Data("[]".utf8).write(to: URL(fileURLWithPath: "\(dir)/bad.json"))
        let (bcode, _, berr) = try iavfCheck(["merge", "\(dir)/bad.json"])
        #expect(bcode == 2 && berr.contains("is neither a suite.json"))
    }
}
