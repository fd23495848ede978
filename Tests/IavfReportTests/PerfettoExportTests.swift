import Foundation
import IavfReport
import Testing

/// The export parsed back as plain JSON (not through the exporter's own types), checked
/// against what the Chrome trace-event format requires for the UI to draw it.
@Suite("export --format perfetto: Chrome trace-event JSON")
struct PerfettoExportTests {
    typealias Obj = [String: Any]

    static func parse(_ path: String) throws -> [Obj] {
        let data = try PerfettoExport.render(AnalyzedTrace.load(path: path))
        let top = try #require(try JSONSerialization.jsonObject(with: data) as? Obj)
        return try #require(top["traceEvents"] as? [Obj])
    }

    @Test("every sample: fields present, B/E pair per track, X nest, flows pair, time never goes back on a track",
          arguments: try allSamples())
    func structure(path: String) throws {
        let events = try Self.parse(path)
        #expect(!events.isEmpty)
        struct Track: Hashable { var pid: Int, tid: Int }
        var named: Set<Track> = []
        var lastTs: [Track: Double] = [:]
        var open: [Track: [String]] = [:]
        var xEnds: [Track: [Double]] = [:]
        var flowStarts: [Int: Double] = [:], flowEnds: [Int: Double] = [:]
        for e in events {
            let ph = try #require(e["ph"] as? String, "ph missing in \(e)")
            #expect(e["name"] is String, "name missing in \(e)")
            let pid = try #require(e["pid"] as? Int, "pid missing in \(e)")
            if ph == "M" {
                if e["name"] as? String == "thread_name", let tid = e["tid"] as? Int { named.insert(Track(pid: pid, tid: tid)) }
                continue
            }
            let tid = try #require(e["tid"] as? Int, "tid missing in \(e)")
            let ts = try #require(e["ts"] as? Double, "ts missing in \(e)")
            let t = Track(pid: pid, tid: tid)
            #expect(named.contains(t), "track \(t) has no thread_name")
            #expect(ts >= lastTs[t, default: 0], "ts goes back on \(t): \(e)")
            lastTs[t] = ts
            let name = e["name"] as! String
            switch ph {
            case "B": open[t, default: []].append(name)
            case "E":
                let b = open[t]?.popLast()
                #expect(b == name, "E \(name) on \(t) closes \(b ?? "nothing")")
            case "X":
                let dur = try #require(e["dur"] as? Double)
                #expect(dur >= 0)
                var ends = xEnds[t, default: []]
                while let top = ends.last, top <= ts { ends.removeLast() }
                if let top = ends.last { #expect(ts + dur <= top + 1e-6, "X \(name) on \(t) overlaps its parent") }
                ends.append(ts + dur)
                xEnds[t] = ends
            case "i":
                #expect(["t", "p", "g"].contains(e["s"] as? String ?? ""))
            case "s":
                let id = try #require(e["id"] as? Int)
                #expect(flowStarts[id] == nil, "two flow starts with id \(id)")
                flowStarts[id] = ts
            case "f":
                let id = try #require(e["id"] as? Int)
                #expect(e["bp"] as? String == "e")
                #expect(flowEnds[id] == nil, "two flow ends with id \(id)")
                flowEnds[id] = ts
            default:
                Issue.record("unexpected ph \(ph)")
            }
        }
        for (t, stack) in open { #expect(stack.isEmpty, "B without E on \(t): \(stack)") }
        #expect(Set(flowStarts.keys) == Set(flowEnds.keys), "flows do not pair up")
        for (id, s) in flowStarts { if let f = flowEnds[id] { #expect(f >= s, "flow \(id) ends before it starts") } }
    }

    @Test("7 of 8: VLAN 107's states on its track, messages joined to replies, the findings as instants")
    func sevenOfEight() throws {
        let events = try Self.parse(sample("unpatched-7-of-8.jsonl"))
        let vlan107 = try #require(events.first { $0["ph"] as? String == "M" && ($0["args"] as? Obj)?["name"] as? String == "VLAN 107" })
        let tid = try #require(vlan107["tid"] as? Int)
        let states = events.filter { $0["tid"] as? Int == tid && $0["ph"] as? String == "B" }.map { $0["name"] as! String }
        #expect(states.starts(with: ["ADD", "IS_NEW", "ACTIVE", "REMOVE", "DISABLE", "INACTIVE"]))
        let ghost = events.filter { $0["cat"] as? String == "finding" && ($0["args"] as? Obj)?["rule"] as? String == "ghost-filter" }
        #expect(ghost.count == 1)
        #expect(ghost.first?["tid"] as? Int == tid)
        #expect((ghost.first?["args"] as? Obj)?["vid"] as? String == "107")
        #expect(events.filter { $0["cat"] as? String == "finding" }.count == 3)
        // Four VLAN messages, each answered: four flows.
        #expect(events.filter { $0["ph"] as? String == "s" }.count == 4)
        #expect(events.contains { $0["cat"] as? String == "link" && $0["name"] as? String == "down" })
    }

    @Test("the CLI writes the file, and a bad trace exits 2 naming file and line")
    func cli() throws {
        let out = tempPath("7-of-8.json")
        let (code, _, _) = try iavfCheck(["export", "--format", "perfetto", "samples/unpatched-7-of-8.jsonl", "-o", out])
        #expect(code == 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(try JSONSerialization.jsonObject(with: data) is [String: Any])
        let bad = tempPath("bad.jsonl")
        try "{\"format\":\"iavf-trace\",\"version\":1,\"generation\":\"patched\"}\n{\"seq\":1}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let (c2, _, err) = try iavfCheck(["export", "--format", "perfetto", bad])
        #expect(c2 == 2)
        #expect(err.contains("bad.jsonl:2"))
    }
}
