import Foundation
import IavfModel
@testable import IavfTrace
import Testing

/// This process's files go in one directory, removed at exit.
private let removeAtExit: Void = {
    atexit { try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("iavf-trace-tests-\(getpid())")) }
}()

func tempPath(_ name: String) -> String {
    _ = removeAtExit
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iavf-trace-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    // Tests run in parallel: every file gets a name of its own.
    return dir.appendingPathComponent(UUID().uuidString + "-" + name).path
}

func write(_ text: String, _ name: String) -> String {
    let p = tempPath(name)
    _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
    return p
}

let header = #"{"format":"iavf-trace","version":1,"generation":"patched","kernel":"6.1.192","vlan_mode":"v2","max_filters":8,"source":"manual"}"#

/// Reads a whole trace; returns the events or the error.
func readAll(_ path: String) -> Result<[TraceEvent], TraceReadError> {
    do {
        let r = try TraceReader(path: path)
        var out: [TraceEvent] = []
        while let e = try r.next() { out.append(e) }
        return .success(out)
    } catch let e as TraceReadError {
        return .failure(e)
    } catch {
        Issue.record("unexpected error type \(error)")
        return .failure(TraceReadError(file: path, line: -1, field: nil, message: "\(error)"))
    }
}

let everyKind: [TraceEvent.Body] = [
    .addVid(key: VlanKey(vid: 100), phase: .enter, ret: nil),
    .addVid(key: VlanKey(vid: 100, tpid: 0x88a8), phase: .exit, ret: -5),
    .killVid(key: VlanKey(vid: 4094), phase: .exit, ret: 0),
    .send(op: .addVlanV2, vids: [VlanKey(vid: 1), VlanKey(vid: 2, tpid: 0x88a8)], ret: 0),
    .send(op: .enableQueues, vids: [], ret: nil),
    .send(op: VirtchnlOp.named("SOME_FUTURE_OP"), vids: [], ret: nil),
    .reply(op: .delVlan, retval: -53),
    .down(phase: .exit), .upComplete(phase: .enter), .open(phase: .exit, ret: 0), .close(phase: .enter, ret: nil),
    .reset(phase: .enter),
    .snapshot(filters: [.init(key: VlanKey(vid: 7), state: .REMOVING), .init(key: VlanKey(vid: 8), state: .INVALID)], count: 2, at: "send"),
    .snapshot(filters: [], count: 0, at: nil),
    .settled(reason: "quiet \"100 ms\"\n"), .settled(reason: nil),
    .lost(count: 12), .mark(text: "state: basic add/remove — ünïcode", result: .PASS), .mark(text: "open", result: nil),
    .pf(vids: [VlanKey(vid: 100)]),
    .pf(vids: [], port: .init(pvid: 200, spoofchk: false, trusted: true, linkUp: false,
                              counters: .init(tx: 5, rx: 4, vlan: 3, spoof: 2, link: 1, badDescriptor: 6, noBuffer: 7, noRoute: 8))),
    .caps(maxFilters: 8), .caps(maxFilters: nil),
]

@Suite("Trace reader and writer")
struct TraceFormatTests {
    @Test("every event kind survives a write and a read, plain and gzip", arguments: ["t.jsonl", "t.jsonl.gz"])
    func roundTrip(name: String) throws {
        let path = tempPath(name)
        let h = TraceHeader(generation: .unpatched, kernel: "6.1.170", vlanMode: .v1, maxFilters: nil, source: .live, midStream: true)
        let w = try TraceWriter(path: path, header: h)
        let events = everyKind.enumerated().map { TraceEvent(seq: Int64($0.offset + 1), tNs: Int64($0.offset) * 10, dev: "0000:41:01.0", $0.element) }
        for e in events { try w.write(e) }
        try w.close()
        let r = try TraceReader(path: path)
        #expect(r.header == h)
        var back: [TraceEvent] = []
        while let e = try r.next() { back.append(e) }
        #expect(back == events)
        if name.hasSuffix(".gz") {
            let magic = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(2)
            #expect(Array(magic) == [0x1f, 0x8b], "a .gz trace is gzip")
        }
    }

    @Test("bad input names the line and the field", arguments: [
        ("[1,2]", 2, nil as String?, "expected an object"),
        (#"{"t_ns":1,"dev":"e","ev":"down","phase":"exit"}"#, 2, "seq", "missing"),
        (#"{"seq":"1","t_ns":1,"dev":"e","ev":"down","phase":"exit"}"#, 2, "seq", "expected an integer, found a string"),
        (#"{"seq":1,"t_ns":1,"dev":"e","ev":"add_vid","vid":100,"phase":"exit"}"#, 2, "ret", "missing"),
        (#"{"seq":1,"t_ns":1,"dev":"e","ev":"open","phase":"exit"}"#, 2, "ret", "missing"),
        (#"{"seq":1,"t_ns":1,"dev":"e","ev":"add_vid","vid":5000,"phase":"enter"}"#, 2, "vid", "out of range"),
        (#"{"seq":1,"t_ns":1,"dev":"e","ev":"snapshot","filters":[{"vid":1,"state":"GONE"}],"count":1}"#, 2, "filters", "not a filter state"),
        (#"{"seq":1,"t_ns":1,"dev":"e","ev":"send","op":"ADD_VLAN_V2"}"#, 2, "vids", "missing"),
        (#"{"seq":1,"t_ns":1,"dev":"e","ev":"down","phase":"exit"} x"#, 2, nil, "unexpected text"),
        (#"{"seq":99999999999999999999,"t_ns":1,"dev":"e","ev":"down","phase":"exit"}"#, 2, "seq", "out of range"),
        (#"{"seq":1.5,"t_ns":1,"dev":"e","ev":"down","phase":"exit"}"#, 2, "seq", "fraction"),
        (#"{"seq":1,"t_ns":1,"dev":"e","ev":"down","phase":"sideways"}"#, 2, "phase", "enter"),
    ])
    func badLine(line: String, lineNo: Int, field: String?, text: String) {
        let p = write(header + "\n" + line + "\n", "bad.jsonl")
        guard case .failure(let e) = readAll(p) else { Issue.record("accepted: \(line)"); return }
        #expect(e.line == lineNo)
        #expect(e.field == field)
        #expect(e.message.contains(text), "\(e)")
        #expect(e.description.hasPrefix("\(p):\(lineNo):"))
    }

    @Test("seq must strictly increase and t_ns must not go back")
    func ordering() {
        let a = #"{"seq":5,"t_ns":10,"dev":"e","ev":"settled"}"#
        let p1 = write([header, a, #"{"seq":5,"t_ns":11,"dev":"e","ev":"settled"}"#].joined(separator: "\n"), "o1.jsonl")
        guard case .failure(let e1) = readAll(p1) else { Issue.record("accepted a repeated seq"); return }
        #expect(e1.line == 3 && e1.field == "seq")
        let p2 = write([header, a, #"{"seq":6,"t_ns":9,"dev":"e","ev":"settled"}"#].joined(separator: "\n"), "o2.jsonl")
        guard case .failure(let e2) = readAll(p2) else { Issue.record("accepted t_ns going back"); return }
        #expect(e2.line == 3 && e2.field == "t_ns")
    }

    @Test("the header is checked: format, version, generation")
    func headers() {
        for (h, field) in [(#"{"format":"pcap","version":1,"generation":"patched"}"#, "format"),
                           (#"{"format":"iavf-trace","version":2,"generation":"patched"}"#, "version"),
                           (#"{"format":"iavf-trace","version":1,"generation":"6.1"}"#, "generation"),
                           (#"{"format":"iavf-trace","version":1}"#, "generation")] {
            guard case .failure(let e) = readAll(write(h + "\n", "h.jsonl")) else { Issue.record("accepted \(h)"); continue }
            #expect(e.line == 1 && e.field == field)
        }
        guard case .failure(let e) = readAll(write("", "empty.jsonl")) else { Issue.record("accepted an empty file"); return }
        #expect(e.message.contains("empty"))
    }

    @Test("unknown fields and unknown event kinds are skipped and counted; blank lines are fine")
    func unknowns() throws {
        let p = write([header, #"{"seq":1,"t_ns":1,"dev":"e","ev":"frobnicate","x":[1,{"y":null}]}"#, "",
                       #"{"seq":2,"t_ns":2,"dev":"e","ev":"frobnicate"}"#,
                       #"{"seq":3,"t_ns":3,"dev":"e","ev":"settled","new_field":{"a":[true,false]}}"#].joined(separator: "\n"), "u.jsonl")
        let r = try TraceReader(path: p)
        var kinds: [String] = []
        while let e = try r.next() { kinds.append(e.kind) }
        #expect(kinds == ["frobnicate", "frobnicate", "settled"])
        #expect(r.unknownKinds == ["frobnicate": 2])
        #expect(r.header.generation == .patched && r.header.maxFilters == 8)
    }

    @Test("a gzip trace cut short is an error, not a silent end")
    func truncatedGzip() throws {
        let path = tempPath("cut.jsonl.gz")
        let w = try TraceWriter(path: path, header: TraceHeader(generation: .patched))
        for i in 1...20_000 { try w.write(TraceEvent(seq: Int64(i), tNs: Int64(i), dev: "eth0", .settled(reason: "padding \(i * 7919)"))) }
        try w.close()
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data = data.prefix(data.count / 2)
        let cut = write("", "cut2.jsonl.gz")
        try data.write(to: URL(fileURLWithPath: cut))
        guard case .failure(let e) = readAll(cut) else { Issue.record("a truncated gzip read as complete"); return }
        #expect(e.message.contains("corrupt") || e.message.contains("cannot read"), "\(e)")
    }

    @Test("a line longer than the read buffer is read whole (the buffer grows, then shrinks back to streaming)")
    func longLine() throws {
        let fs = (1...2000).map { #"{"vid":\#($0 % 4000 + 1),"tpid":33024,"state":"ACTIVE"}"# }.joined(separator: ",")
        let long = #"{"seq":1,"t_ns":1,"dev":"e","ev":"snapshot","filters":[\#(fs)],"count":2000}"#
        let p = write(header + "\n" + long + "\n" + #"{"seq":2,"t_ns":2,"dev":"e","ev":"settled"}"#, "long.jsonl")
        let r = try TraceReader(path: p, bufferSize: 4096)
        guard case .snapshot(let filters, let count, _)? = try r.next()?.body else { Issue.record("no snapshot"); return }
        #expect(filters.count == 2000 && count == 2000)
        #expect(try r.next()?.kind == "settled")
        #expect(try r.next() == nil)
    }
}

@Suite("Decoder fuzzing: never a crash, always an error with its line")
struct DecoderFuzzTests {
    let valid = [
        #"{"seq":1,"t_ns":1,"dev":"eth0","ev":"add_vid","vid":100,"tpid":33024,"phase":"exit","ret":0}"#,
        #"{"seq":2,"t_ns":2,"dev":"eth0","ev":"send","op":"ADD_VLAN_V2","vids":[[100,33024]],"ret":0}"#,
        #"{"seq":3,"t_ns":3,"dev":"eth0","ev":"snapshot","filters":[{"vid":100,"tpid":33024,"state":"ADDING"}],"count":1}"#,
        #"{"seq":4,"t_ns":4,"dev":"eth0","ev":"reply","op":"ADD_VLAN_V2","retval":0}"#,
        #"{"seq":5,"t_ns":5,"dev":"eth0","ev":"mark","text":"a \"b\" \u00e9 \ud83d\ude00","result":"PASS"}"#,
    ]

    struct Rng { var s: UInt64; mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 11 } }

    /// Feeds `body` as line 2; the reader must either accept it or name line 2.
    func probe(_ body: [UInt8], _ i: Int) {
        let p = tempPath("fuzz-\(i % 4).jsonl")
        var data = Data(header.utf8); data.append(0x0a); data.append(contentsOf: body)
        _ = FileManager.default.createFile(atPath: p, contents: data)
        switch readAll(p) {
        case .success: break
        case .failure(let e): #expect(e.line >= 2, "case \(i): \(e)")
        }
    }

    @Test("random bytes")
    func randomBytes() {
        var rng = Rng(s: 42)
        for i in 0..<3000 {
            let n = Int(rng.next() % 200)
            probe((0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, i)
        }
    }

    @Test("valid lines truncated at every byte")
    func truncations() {
        var i = 0
        for line in valid {
            let b = Array(line.utf8)
            for cut in 0..<b.count { probe(Array(b[..<cut]), i); i += 1 }
        }
    }

    @Test("valid lines with bytes flipped, deleted, or numbers made huge")
    func mutations() {
        var rng = Rng(s: 7)
        let pool: [UInt8] = Array("{}[]\":,-0123456789eE.tfnul\\ ".utf8) + [0, 0x80, 0xff, 0x0a]
        for i in 0..<6000 {
            var b = Array(valid[i % valid.count].utf8)
            for _ in 0...(rng.next() % 3) {
                let at = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[at] = pool[Int(rng.next() % UInt64(pool.count))]
                case 1: b.remove(at: at)
                default: b.insert(contentsOf: Array("99999999999999999999999".utf8), at: at)
                }
                if b.isEmpty { break }
            }
            probe(b, i)
        }
    }

    @Test("deep nesting in an unknown field is refused, not recursed into without bound")
    func deepNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let p = write(header + "\n" + #"{"seq":1,"t_ns":1,"dev":"e","ev":"settled","x":\#(deep)}"#, "deep.jsonl")
        guard case .failure(let e) = readAll(p) else { Issue.record("accepted 100000 levels"); return }
        #expect(e.message.contains("nested"))
    }
}
