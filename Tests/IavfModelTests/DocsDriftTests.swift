import Foundation
import IavfModel
import Testing

/// docs/models.md shows each generation's transition table as `iavf-check model` prints it,
/// between `<!-- BEGIN model G -->` and `<!-- END model G -->`: the docs cannot drift from the
/// tables the checker uses. Regenerate a block with `iavf-check model --generation G`.
@Suite("Docs generated from the model")
struct DocsDriftTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("docs/models.md holds each generation's table exactly as the model renders it", arguments: Generation.allCases)
    func tableInDocs(_ g: Generation) throws {
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/models.md"), encoding: .utf8)
        let begin = "<!-- BEGIN model \(g.rawValue) -->\n```text\n", end = "```\n<!-- END model \(g.rawValue) -->"
        let from = try #require(doc.range(of: begin), "docs/models.md has no BEGIN marker for \(g.rawValue)")
        let to = try #require(doc.range(of: end, range: from.upperBound..<doc.endIndex), "no END marker for \(g.rawValue)")
        #expect(String(doc[from.upperBound..<to.lowerBound]) == ModelRendering.table(g),
                "docs/models.md is stale for \(g.rawValue): paste `iavf-check model --generation \(g.rawValue)` between its markers")
    }
}
