import Foundation
import IavfReport
import Testing

/// The browser the DOM test uses: Debian's chromium (scripts/install-deps.sh installs it).
enum Browser {
    static let path: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    /// Run when there is a browser; under CI=true also without one, so that it fails there.
    static var shouldRun: Bool { path != nil || isCI }
    static let reason: Comment = "needs chromium (apt-get install chromium; skipped, with CI=true it fails instead)"

    /// The DOM after chromium parsed and laid out the page.
    static func dumpDOM(_ file: String) throws -> String {
        let chromium = try #require(path, "CI=true but chromium is missing: scripts/install-deps.sh installs it")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: chromium)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(tempPath("chromium-profile"))",
                       "--dump-dom", URL(fileURLWithPath: file).absoluteString]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "chromium exited \(p.terminationStatus)")
        return String(decoding: data, as: UTF8.self)
    }
}

func occurrences(_ needle: String, in hay: String) -> Int { hay.components(separatedBy: needle).count - 1 }

@Suite("report: the HTML report")
struct HTMLReportTests {
    static func pair() throws -> [AnalyzedTrace] {
        try [AnalyzedTrace.load(path: sample("unpatched-7-of-8.jsonl")), AnalyzedTrace.load(path: sample("patched-7-of-8.jsonl"))]
    }

    @Test("self-contained: no scripts, no external references")
    func selfContained() throws {
        let html = HTMLReport.render(try Self.pair())
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!html.contains("https://"))
        #expect(!html.contains("<link"))
        #expect(!html.contains("src="))
    }

    @Test("one finding article and one timeline marker per finding, on the finding's VLAN", arguments: try allSamples())
    func markers(path: String) throws {
        let t = try AnalyzedTrace.load(path: path)
        let html = HTMLReport.render([t])
        #expect(occurrences("<article class=\"finding ", in: html) == t.report.findings.count)
        #expect(occurrences("<g class=\"finding-marker\"", in: html) == t.report.findings.count)
        for f in t.report.findings {
            let vid = f.key.map { String($0.vid) } ?? ""
            #expect(html.contains("<g class=\"finding-marker\" data-rule=\"\(f.rule.rawValue)\" data-vid=\"\(vid)\" data-seq=\"\(f.seq)\""))
        }
        #expect(html.contains("data-verdict=\"\(t.report.verdict.rawValue)\""))
    }

    @Test("timelines stay bounded: a window of at most maxWindow events, later findings listed without one")
    func bounded() throws {
        var o = HTMLReport.Options()
        o.maxTimelines = 1
        let html = HTMLReport.render(try Self.pair(), options: o)
        #expect(occurrences("<svg class=\"timeline\"", in: html) == 1)
        #expect(occurrences("<article class=\"finding ", in: html) == 3)
    }

    @Test("in chromium: the summary rows, the cases side by side, the 7-of-8 ghost on VLAN 107",
          .enabled(if: Browser.shouldRun, Browser.reason))
    func inBrowser() throws {
        let file = tempPath("report.html")
        let (code, _, err) = try iavfCheck(["report", "samples/unpatched-7-of-8.jsonl", "samples/patched-7-of-8.jsonl", "-o", file])
        #expect(code == 0, "\(err)")
        let dom = try Browser.dumpDOM(file)
        // Parsed by the browser: the rows and markers are in its DOM, not just in the text.
        #expect(dom.contains("<tr class=\"trace-row\" data-trace=\"unpatched-7-of-8.jsonl\" data-verdict=\"fail\">"))
        #expect(dom.contains("<tr class=\"trace-row\" data-trace=\"patched-7-of-8.jsonl\" data-verdict=\"pass\">"))
        #expect(dom.contains("<tr class=\"case-row\" data-case=\"state: 8 VLANs add/remove\">"))
        #expect(dom.contains("data-trace=\"unpatched-7-of-8.jsonl\" data-result=\"FAIL\" data-violations=\"2\""))
        #expect(dom.contains("data-trace=\"patched-7-of-8.jsonl\" data-result=\"PASS\" data-violations=\"0\""))
        #expect(dom.contains("<g class=\"finding-marker\" data-rule=\"ghost-filter\" data-vid=\"107\" data-seq=\"30\">"))
        #expect(dom.contains("<g class=\"finding-marker\" data-rule=\"spurious-limit-reject\" data-vid=\"107\""))
        #expect(occurrences("class=\"finding-marker\"", in: dom) == 3)
        #expect(occurrences("<svg class=\"timeline\"", in: dom) == 3)
        // VLAN 107's band in the ghost's timeline shows the state it was resurrected in.
        #expect(dom.contains("class=\"state state-ACTIVE\" data-state=\"ACTIVE\" data-vid=\"107\""))
        #expect(dom.contains("class=\"state state-DISABLE\" data-state=\"DISABLE\" data-vid=\"107\""))
        #expect(dom.contains("<rect class=\"band-down\""))
        #expect(dom.contains("<g class=\"msg-send msg-vlan\" data-op=\"ADD_VLAN_V2\""))
    }

    @Test("report DIR reads the directory's traces; pf-K.jsonl becomes the PF strip of trace-K; a bad trace exits 2")
    func directory() throws {
        let dir = tempPath("suite-out")
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (from, to) in [("unpatched-7-of-8.jsonl", "trace-unpatched.jsonl"), ("patched-7-of-8.jsonl", "trace-patched.jsonl")] {
            try FileManager.default.copyItem(atPath: sample(from), toPath: dir + "/" + to)
        }
        // The PF programs VLAN 107 between the re-ADD's send (seq 26) and its reply (seq 28).
        let pfLog = """
        {"format":"iavf-trace","version":1,"generation":"unknown","source":"emulated"}
        {"seq":1,"t_ns":1000,"dev":"eth0","ev":"pf","vids":[]}
        {"seq":2,"t_ns":161150000,"dev":"eth0","ev":"pf","vids":[[107,33024]]}

        """
        try pfLog.write(toFile: dir + "/pf-unpatched.jsonl", atomically: true, encoding: .utf8)
        let out = tempPath("dir.html")
        let (code, _, err) = try iavfCheck(["report", dir, "-o", out])
        #expect(code == 0, "\(err)")
        let html = try String(contentsOfFile: out, encoding: .utf8)
        #expect(html.contains("data-trace=\"trace-patched.jsonl\""))
        #expect(html.contains("data-trace=\"trace-unpatched.jsonl\""))
        #expect(!html.contains("data-trace=\"pf-unpatched.jsonl\""))
        #expect(html.contains("from pf-unpatched.jsonl"))
        #expect(html.contains("<rect class=\"pf-programmed\" data-vid=\"107\""))
        try "not a trace\n".write(toFile: dir + "/pf-unpatched.jsonl", atomically: true, encoding: .utf8)
        let (bad, _, berr) = try iavfCheck(["report", dir, "-o", out])
        #expect(bad == 2)
        #expect(berr.contains("pf-unpatched.jsonl:1"))
    }
}

@Test("traces with the same file name are told apart by their directory")
func displayNames() {
    #expect(HTMLReport.displayNames(["a/x.jsonl", "b/y.jsonl"]) == ["x.jsonl", "y.jsonl"])
    #expect(HTMLReport.displayNames(["r/suite-1/trace-patched.jsonl", "r/suite-2/trace-patched.jsonl"])
            == ["suite-1/trace-patched.jsonl", "suite-2/trace-patched.jsonl"])
    #expect(HTMLReport.displayNames(["x.jsonl", "x.jsonl"]) == ["x.jsonl", "x.jsonl"])
}
