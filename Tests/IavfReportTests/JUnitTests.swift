import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import IavfReport
import Testing

/// Counts elements and collects attributes while XMLParser checks well-formedness.
final class XMLCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attrs: [String: String])] = []
    var text = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((name, attributes))
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
    func count(_ name: String) -> Int { elements.filter { $0.name == name }.count }

    static func parse(_ xml: String) throws -> XMLCollector {
        let c = XMLCollector()
        let p = XMLParser(data: Data(xml.utf8))
        p.delegate = c
        let ok = p.parse()
        try #require(ok, "not well-formed: \(p.parserError.map { "\($0)" } ?? "?")\n\(xml.prefix(400))")
        return c
    }
}

@Suite("JUnit XML")
struct JUnitTests {
    @Test("every sample: well-formed, and the counts attributes match the elements", arguments: try allSamples())
    func wellFormed(path: String) throws {
        let t = try AnalyzedTrace.load(path: path)
        let xml = JUnit.render([JUnit.suite(for: t.report, traceName: path)])
        let c = try XMLCollector.parse(xml)
        let suite = try #require(c.elements.first { $0.name == "testsuite" })
        #expect(suite.attrs["tests"] == String(c.count("testcase")))
        #expect(suite.attrs["failures"] == String(c.count("failure")))
        #expect(suite.attrs["skipped"] == String(c.count("skipped")))
        #expect(suite.attrs["errors"] == "0")
        let root = try #require(c.elements.first)
        #expect(root.name == "testsuites")
        #expect(root.attrs["tests"] == suite.attrs["tests"])
        // A failing verdict always shows a failure, as the KTAP output shows a `not ok`.
        #expect((t.report.verdict == .fail) == (c.count("failure") > 0))
        let props = Dictionary(c.elements.filter { $0.name == "property" }.map { ($0.attrs["name"]!, $0.attrs["value"]!) }) { a, _ in a }
        #expect(props["verdict"] == t.report.verdict.rawValue)
        #expect(props["generation"] != nil)
    }

    @Test("7 of 8: the case fails with the findings' text; patched passes; inconclusive is skipped; no cases: a case per rule")
    func mapping() throws {
        let u = try AnalyzedTrace.load(path: sample("unpatched-7-of-8.jsonl"))
        let us = JUnit.suite(for: u.report, traceName: "u")
        #expect(us.cases.map(\.name) == ["state: 8 VLANs add/remove"])
        #expect(us.cases.first?.status == .failed)
        #expect(us.cases.first?.text?.contains("ghost-filter") == true)
        #expect(us.cases.first?.message?.contains("2 violations") == true)
        #expect(us.properties.contains(.init("kernel", "6.1.170")))
        let p = try AnalyzedTrace.load(path: sample("patched-7-of-8.jsonl"))
        #expect(JUnit.suite(for: p.report, traceName: "p").cases.allSatisfy { $0.status == .passed })
        let lost = try AnalyzedTrace.load(path: sample("inconclusive-lost.jsonl"))
        let ls = JUnit.suite(for: lost.report, traceName: "l")
        #expect(ls.count(.skipped) > 0 && ls.count(.failed) == 0)
        // A warning does not fail its case; it shows as the case's output.
        let churn = try AnalyzedTrace.load(path: sample("down-up-churn-fail.jsonl"))
        if churn.report.count(.violation) == 0 && churn.report.cases.isEmpty {
            let c = JUnit.suite(for: churn.report, traceName: "c").cases.first { $0.name == "down-up-churn" }
            #expect(c?.status == .passed)
            #expect(c?.systemOut?.contains("down-up-churn") == true)
        }
        let g = try AnalyzedTrace.load(path: sample("ghost-filter-fail.jsonl"))
        let gs = JUnit.suite(for: g.report, traceName: "g")
        if g.report.cases.isEmpty {
            #expect(gs.cases.count == 10)
            #expect(gs.cases.first { $0.name == "ghost-filter" }?.status == .failed)
        }
    }

    @Test("markup, quotes and control characters are escaped and survive a round trip")
    func escaping() throws {
        let nasty = "a<b & \"c\" 'd' ]]> </testcase>\u{01}\ttab"
        let suite = JUnit.Suite(name: nasty, properties: [.init("kernel", nasty)],
                                cases: [.init(name: nasty, className: "x", status: .failed, message: nasty + "\nline 2", text: nasty, time: 0.25),
                                        .init(name: "skip", className: "x", status: .skipped, message: "why"),
                                        .init(name: "err", className: "x", status: .error, message: "boom")])
        let xml = JUnit.render([suite])
        let c = try XMLCollector.parse(xml)
        let expected = nasty.replacingOccurrences(of: "\u{01}", with: "\u{FFFD}")
        #expect(c.elements.first { $0.name == "testsuite" }?.attrs["name"] == expected)
        #expect(c.elements.first { $0.name == "testcase" }?.attrs["name"] == expected)
        #expect(c.elements.first { $0.name == "failure" }?.attrs["message"] == expected + "\nline 2")
        #expect(c.elements.first { $0.name == "property" }?.attrs["value"] == expected)
        #expect(c.text.contains(expected))
        let s = try #require(c.elements.first { $0.name == "testsuite" })
        #expect(s.attrs["tests"] == "3" && s.attrs["failures"] == "1" && s.attrs["skipped"] == "1" && s.attrs["errors"] == "1")
        #expect(s.attrs["time"] == "0.250")
    }

    @Test("check --format junit prints the document and keeps the verdict's exit code")
    func cli() throws {
        let (code, out, _) = try iavfCheck(["check", "--format", "junit", "samples/unpatched-7-of-8.jsonl"])
        #expect(code == 1)
        let c = try XMLCollector.parse(out)
        #expect(c.count("failure") == 1)
        let (pcode, pout, _) = try iavfCheck(["check", "--format", "junit", "samples/patched-7-of-8.jsonl"])
        #expect(pcode == 0)
        #expect(try XMLCollector.parse(pout).count("failure") == 0)
    }
}
