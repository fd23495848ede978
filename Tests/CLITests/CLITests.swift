import Foundation
import Testing

/// Runs the built `iavf-check` as a user would and returns (exit status, stdout, stderr).
func iavfCheck(_ args: [String], stdin: Data? = nil) throws -> (Int32, String, String) {
    let bin = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("iavf-check")
    let p = Process()
    p.executableURL = bin
    p.arguments = args
    p.currentDirectoryURL = root
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    if let stdin { inp.fileHandleForWriting.write(stdin) }
    try inp.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite("iavf-check as a user runs it")
struct CLITests {
    @Test("check: exit 0 pass, 1 fail, 4 inconclusive, as the contract says")
    func exitCodes() throws {
        #expect(try iavfCheck(["check", "samples/patched-7-of-8.jsonl"]).0 == 0)
        #expect(try iavfCheck(["check", "samples/unpatched-7-of-8.jsonl"]).0 == 1)
        #expect(try iavfCheck(["check", "samples/inconclusive-lost.jsonl"]).0 == 4)
    }

    @Test("stress: a bad --replay or --ops is a usage error (exit 2) naming the op; help lists the ops")
    func stressUsage() throws {
        let (code, _, err) = try iavfCheck(["stress", "--replay", "add 100; jump; down"])
        #expect(code == 2)
        #expect(err.contains("op 2 'jump'") && err.contains("pf-reset"))
        #expect(try iavfCheck(["stress", "--ops", "0"]).0 == 2)
        let (w, _, werr) = try iavfCheck(["stress", "--without", "reject-add,teleport"])
        #expect(w == 2 && werr.contains("'teleport' is not an op kind"))
        let (h, help, _) = try iavfCheck(["stress", "--help"])
        #expect(h == 0 && help.contains("reject-add") && help.contains("--seed") && help.contains("Exit codes"))
    }

    @Test("check text output explains the 7-of-8 failure: rule, VLAN, cause, leading events, verdict")
    func textOutput() throws {
        let (_, out, _) = try iavfCheck(["check", "samples/unpatched-7-of-8.jsonl"])
        #expect(out.contains("VIOLATION spurious-limit-reject  dev eth0  VLAN 107"))
        #expect(out.contains("likely cause: R1"))
        #expect(out.contains("leading events:"))
        #expect(out.contains("> seq 54  add_vid exit VLAN 107 ret -5 (EIO)"))
        #expect(out.hasSuffix("verdict: FAIL (2 violations, 1 warnings, 0 notes) in 61 events, 1 device\n"))
    }

    @Test("check --format json is one object with the contract's fields")
    func json() throws {
        let (code, out, _) = try iavfCheck(["check", "--format", "json", "samples/unpatched-7-of-8.jsonl"])
        #expect(code == 1)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(obj["verdict"] as? String == "fail")
        #expect(obj["events"] as? Int == 61)
        #expect(obj["devices"] as? [String] == ["eth0"])
        let findings = try #require(obj["findings"] as? [[String: Any]])
        #expect(findings.contains { $0["rule"] as? String == "ghost-filter" && $0["vid"] as? Int == 107 && $0["tpid"] as? Int == 33024 })
        for f in findings { for k in ["rule", "severity", "seq", "dev", "vid", "tpid", "message"] { #expect(f[k] != nil, "finding lacks \(k)") } }
        let cases = try #require(obj["cases"] as? [[String: Any]])
        #expect(cases.count == 1 && cases[0]["name"] as? String == "state: 8 VLANs add/remove" && cases[0]["result"] as? String == "FAIL")
    }

    @Test("check --format ktap follows KTAP version 1 with a plan, test points and totals")
    func ktap() throws {
        let (code, out, _) = try iavfCheck(["check", "--format", "ktap", "samples/inconclusive-lost.jsonl"])
        #expect(code == 4)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.first == "KTAP version 1")
        #expect(lines.contains("1..10"))
        #expect(lines.filter { $0.hasPrefix("ok ") }.count == 10)
        #expect(lines.allSatisfy { !$0.hasPrefix("ok ") || $0.contains("# SKIP inconclusive") })
        #expect(lines.last == "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:10 error:0")
    }

    @Test("bad input: one message naming file, line and field; exit 2; nothing judged")
    func badInput() throws {
        let bad = #"{"format":"iavf-trace","version":1,"generation":"patched"}"# + "\n" + #"{"seq":1,"t_ns":1,"dev":"e","ev":"add_vid","vid":"100","phase":"enter"}"# + "\n"
        let (code, out, err) = try iavfCheck(["check", "-"], stdin: Data(bad.utf8))
        #expect(code == 2)
        #expect(out.isEmpty)
        #expect(err == "iavf-check: bad input: -:2: field 'vid': expected an integer, found a string\n")
        let (code2, _, err2) = try iavfCheck(["check", "/nonexistent/trace.jsonl"])
        #expect(code2 == 2 && err2.contains("/nonexistent/trace.jsonl: cannot open: No such file or directory"))
    }

    @Test("usage errors exit 2 with the help line")
    func usage() throws {
        let (code, _, err) = try iavfCheck(["check", "--format", "xml", "samples/patched-7-of-8.jsonl"])
        #expect(code == 2 && err.contains("--format"))
        let (code2, _, err2) = try iavfCheck(["explain", "no-such-rule"])
        #expect(code2 == 2 && err2.contains("ghost-filter"))
    }

    @Test("an unknown event kind is skipped with one warning for its kind")
    func unknownKindWarning() throws {
        let t = #"{"format":"iavf-trace","version":1,"generation":"patched"}"# + "\n" +
            #"{"seq":1,"t_ns":1,"dev":"e","ev":"hello"}"# + "\n" + #"{"seq":2,"t_ns":2,"dev":"e","ev":"hello"}"# + "\n"
        let (code, _, err) = try iavfCheck(["check", "-"], stdin: Data(t.utf8))
        #expect(code == 0)
        #expect(err == "iavf-check: warning: -: skipped 2 events of unknown kind 'hello'\n")
    }

    @Test("model prints both generations as tables and DOT")
    func model() throws {
        let (c1, table, _) = try iavfCheck(["model", "--generation", "unpatched"])
        #expect(c1 == 0 && table.contains("| INACTIVE") && table.contains("2.2 REMOVE WdDel, chosen (freed at send)"))
        let (c2, dot, _) = try iavfCheck(["model", "--generation", "patched", "--format", "dot"])
        #expect(c2 == 0 && dot.hasPrefix("digraph") && dot.contains("REMOVING -> ACTIVE"))
    }

    @Test("explain names the meaning, the race and the generation")
    func explain() throws {
        let (code, out, _) = try iavfCheck(["explain", "ghost-filter"])
        #expect(code == 0)
        #expect(out.contains("Holds when:") && out.contains("R1") && out.contains("Expected to trip: Unpatched"))
        let (_, list, _) = try iavfCheck(["explain"])
        #expect(list.contains("state-divergence") && list.contains("S3"))
    }
}
