import Foundation
import IavfChecker
import IavfModel
import IavfTrace
import Testing

@Suite("The JSON report is a Codable document")
struct ReportDocumentTests {
    @Test("written and read back through the same type, with the contract's field names", arguments: [
        "unpatched-7-of-8.jsonl", "inconclusive-lost.jsonl", "recorded-patched-S3-delete-during-reset.jsonl", "count-mismatch-fail.jsonl",
    ])
    func roundTrip(_ sample: String) throws {
        let r = try checkSample(sample)
        let text = ReportRenderer.render(r, format: .json, traceName: sample)
        let doc = try CheckReportDocument.decode(Data(text.utf8))
        #expect(doc == CheckReportDocument(r))
        #expect(doc.verdict == r.verdict && doc.findingsTotal == r.totalFindings && doc.cases.count == r.cases.count)
        // What tools read by name (trace-format.md), whatever Codable does with the rest.
        let any = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        for key in ["verdict", "events", "devices", "findings", "findings_total", "counts", "cases", "outside_cases", "inconclusive_reasons"] {
            #expect(any[key] != nil, "\(key) missing")
        }
        if let f = (any["findings"] as? [[String: Any]])?.first {
            #expect(f.keys.contains("vid") && f.keys.contains("tpid") && f["context"] is [[String: Any]])
        }
        #expect(text == ReportRenderer.render(r, format: .json, traceName: sample), "the same report prints the same bytes")
    }
}
