import IavfModel
@testable import IavfTrace
import Testing

/// The decoder's fast path (the writer's layout) must never accept a line the general path
/// would decode differently or refuse.
@Suite struct FastDecoderTests {
    static let k100 = VlanKey(vid: 100)
    static let events: [TraceEvent] = {
        let dev = "0000:00:05.0"
        var out: [TraceEvent] = []
        var seq: Int64 = 0
        func add(_ b: TraceEvent.Body, dev: String = dev) {
            seq += 1
            out.append(TraceEvent(seq: seq, tNs: seq * 1000, dev: dev, b))
        }
        let s = VlanKey(vid: 4095, tpid: VlanKey.stag)
        add(.addVid(key: k100, phase: .enter, ret: nil))
        add(.addVid(key: k100, phase: .exit, ret: 0))
        add(.addVid(key: s, phase: .exit, ret: -5))
        add(.killVid(key: VlanKey(vid: 0), phase: .enter, ret: nil))
        add(.killVid(key: k100, phase: .exit, ret: -4095))
        add(.send(op: .addVlanV2, vids: [k100, s], ret: 0))
        add(.send(op: .delVlan, vids: [], ret: nil))
        add(.send(op: .getStats, vids: [], ret: nil))
        add(.reply(op: .delVlanV2, retval: -2147483648))
        add(.reply(op: .addVlan, retval: 2147483647))
        add(.reply(op: .getOffloadVlanV2Caps, retval: 0))
        add(.down(phase: .enter))
        add(.upComplete(phase: .exit))
        add(.open(phase: .exit, ret: 0))
        add(.close(phase: .enter, ret: nil))
        add(.reset(phase: .enter))
        add(.snapshot(filters: [], count: 0, at: nil))
        add(.snapshot(filters: FilterState.allCases.enumerated().map { Filter(vid: UInt16($0.offset), state: $0.element) },
                      count: 9, at: "iavf_add_vlans"))
        add(.snapshot(filters: [Filter(key: s, state: .REMOVING)], count: 2147483647, at: "add_vid"), dev: "eth0")
        add(.settled(reason: nil))
        add(.settled(reason: "sim"))
        add(.lost(count: 3))
        add(.mark(text: "case \"x\"", result: .PASS))
        add(.pf(vids: [k100]))
        add(.caps(maxFilters: 8))
        add(.unknown(kind: "future"))
        return out
    }()

    @Test func writerLinesTakeTheFastPathAndMatch() throws {
        var d = EventDecoder()
        var fast = 0
        for e in Self.events {
            let line = TraceEncoding.line(e)
            let (f, g) = try decodeBoth(&d, line)
            #expect(g == e, "\(line)")
            if let f { fast += 1; #expect(f == g, "\(line)") }
        }
        // Every kind on the checker's hot path, VLAN opcodes only (the 19 above; the rest
        // go the general way).
        #expect(fast == 19)
    }

    /// Mutations of the writer's lines: whatever the fast path accepts, the general path
    /// decodes to the same event.
    @Test func mutatedLinesAgree() throws {
        var d = EventDecoder()
        var rng: UInt64 = 0x9E3779B97F4A7C15
        func next(_ n: Int) -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(n))
        }
        let alphabet = Array(#"0123456789-+.eE"\,:{}[] atnrx"#.utf8) + [0x09, 0x0d, 0x01, 0xc3, 0x80]
        var accepted = 0
        for e in Self.events {
            let line = Array(TraceEncoding.line(e).utf8)
            for _ in 0..<600 {
                var m = line
                for _ in 0...next(2) {
                    let i = next(m.count)
                    switch next(3) {
                    case 0: m[i] = alphabet[next(alphabet.count)]
                    case 1: m.remove(at: i)
                    default: m.insert(alphabet[next(alphabet.count)], at: i)
                    }
                    if m.isEmpty { m = [0x7b] }
                }
                let f = m.withUnsafeBytes { d.fastEvent($0) }
                guard let f else { continue }
                accepted += 1
                let g = try? m.withUnsafeBytes { try d.generalEvent($0) }
                #expect(g == f, "\(String(decoding: m, as: UTF8.self))")
            }
        }
        #expect(accepted > 0)
    }

    /// Numbers of every length around the eight-digit words and the 18-digit limit, with
    /// what may follow them: fast and general agree (and the general path decides past 18).
    @Test func numbersOfEveryLength() throws {
        var d = EventDecoder()
        for n in 1...20 {
            let digits = String(repeating: "9", count: n)
            for tail in ["", "0", ".5", "e3", " "] {
                for line in [#"{"seq":\#(digits)\#(tail),"t_ns":1,"dev":"d","ev":"down","phase":"exit"}"#,
                             #"{"seq":1,"t_ns":\#(digits)\#(tail),"dev":"d","ev":"down","phase":"exit"}"#,
                             #"{"seq":1,"t_ns":\#(digits)\#(tail)}"#,
                             #"{"seq":1,"t_ns":2,"dev":"d","ev":"reply","op":"ADD_VLAN","retval":-\#(digits)\#(tail)}"#,
                             #"{"seq":1,"t_ns":2,"dev":"d","ev":"add_vid","vid":1,"tpid":33024,"phase":"exit","ret":\#(digits)\#(tail)}"#] {
                    let bytes = Array(line.utf8)
                    let f = bytes.withUnsafeBytes { d.fastEvent($0) }
                    let g = try? bytes.withUnsafeBytes { try d.generalEvent($0) }
                    if let f { #expect(f == g, "\(line)") }
                    if n <= 18 && tail.isEmpty && g != nil { #expect(f != nil, "\(line)") }
                }
            }
        }
    }

    /// A snapshot list seen before is taken from the memo by its bytes: lists of the same
    /// length that differ in one state or one VLAN come out as themselves, in any order.
    @Test func repeatedListsDecodeAsThemselves() throws {
        var d = EventDecoder()
        func line(_ states: [FilterState], first vid: UInt16 = 100) -> TraceEvent {
            TraceEvent(seq: 7, tNs: 123_456_789_012, dev: "0000:00:05.0",
                       .snapshot(filters: states.enumerated().map { Filter(vid: vid + UInt16($0.offset), state: $0.element) },
                                 count: states.count, at: "add_vid"))
        }
        // ADDING, ACTIVE and REMOVE have the same length: these lists differ in bytes only.
        let variants = [line([.ACTIVE, .ADDING, .ACTIVE]), line([.ACTIVE, .ACTIVE, .ACTIVE]),
                        line([.REMOVE, .ACTIVE, .ACTIVE]), line([.ACTIVE, .ACTIVE, .ACTIVE], first: 101),
                        line([.ACTIVE, .ACTIVE, .REMOVE]), line([.ACTIVE, .ADDING, .ACTIVE], first: 900)]
        for round in 0..<3 {
            for e in (round == 1 ? variants.reversed() : variants) {
                let (f, g) = try decodeBoth(&d, TraceEncoding.line(e))
                #expect(f == e && g == e, "\(TraceEncoding.line(e))")
            }
        }
        // The memo itself: a kept list answers only to its own bytes.
        let memo = RawListMemo<Int>()
        let a = Array(#"{"vid":100,"tpid":33024,"state":"ACTIVE"}]"#.utf8), b = Array(#"{"vid":100,"tpid":33024,"state":"ADDING"}]"#.utf8)
        a.withUnsafeBufferPointer { memo.keep(3, $0.baseAddress!, a.count, [1]) }
        #expect(a.withUnsafeBufferPointer { memo.list(3, $0.baseAddress!, a.count) } == [1])
        #expect(b.withUnsafeBufferPointer { memo.list(3, $0.baseAddress!, b.count) } == nil)
        #expect(a.withUnsafeBufferPointer { memo.list(3, $0.baseAddress!, a.count - 1) } == nil)
    }

    /// The reader decodes writer lines in place in its buffer (no search for the newline
    /// first): whatever the buffer size, lines cut by a refill, lines the fast path refuses
    /// (another key order, CRLF, trailing blanks), blank lines and a last line without a
    /// newline give the events each line gives alone, and an error names its line.
    @Test func linesReadInPlaceAgreeWithLinesAlone() throws {
        var lines: [String] = []
        var seq: Int64 = 0
        for round in 0..<6 {
            for e in Self.events {
                seq += 1
                var line = TraceEncoding.line(TraceEvent(seq: seq, tNs: seq * 1_000_003, dev: e.dev, e.body))
                switch (round, seq % 7) {
                case (1, 0): line += "\r"
                case (2, 3): line += "  "
                case (3, 5): line = line.replacingOccurrences(of: #"{"seq":\#(seq),"t_ns":"#, with: #"{"t_ns":"#)
                                        .replacingOccurrences(of: #","dev":"#, with: #","seq":\#(seq),"dev":"#)
                default: break
                }
                lines.append(line)
                if round == 4 && seq % 5 == 0 { lines.append("") }
            }
        }
        var d = EventDecoder()
        let expected = try lines.filter { !$0.isEmpty }.map { l in try Array((l.hasSuffix("\r") ? String(l.dropLast()) : l).utf8).withUnsafeBytes { try d.event($0) } }
        let header = #"{"format":"iavf-trace","version":1,"generation":"patched"}"#
        for (text, name) in [(lines.joined(separator: "\n") + "\n", "nl"), (lines.joined(separator: "\n"), "no-final-nl")] {
            let p = write(header + "\n" + text, "in-place-\(name).jsonl")
            for size in [64, 97, 256, 4096, 1 << 20] {
                let r = try TraceReader(path: p, bufferSize: size)
                var got: [TraceEvent] = []
                while let e = try r.next() { got.append(e) }
                #expect(got == expected, "buffer \(size), \(name)")
            }
            // Into memory of the caller's (as `check`'s batches take them), with the decoder's
            // kept lists dropped every few events (as at every batch): the same events.
            for every in [1, 3, 1000] {
                let r = try TraceReader(path: p, bufferSize: 256)
                let slots = UnsafeMutablePointer<TraceEvent>.allocate(capacity: expected.count + 1)
                var n = 0
                while try r.decodeNext(into: slots + n) {
                    n += 1
                    if n % every == 0 { r.forgetLists() }
                }
                let got = Array(UnsafeBufferPointer(start: slots, count: n))
                slots.deinitialize(count: n)
                slots.deallocate()
                #expect(got == expected, "decodeNext, lists forgotten every \(every), \(name)")
            }
        }
        // A bad line after many good ones, here one with a byte after its object (the fast
        // path must see the newline right after the brace): its number, whichever path read
        // the lines before it.
        let good = TraceEncoding.line(TraceEvent(seq: 1000, tNs: 1, dev: "d", .down(phase: .exit)))
        for (i, badLine) in [#"{"seq":1}"#, good + "x", good + "}"].enumerated() {
            let bad = write(header + "\n" + lines.prefix(40).joined(separator: "\n") + "\n" + badLine + "\n", "in-place-bad-\(i).jsonl")
            for size in [64, 4096] {
                let r = try TraceReader(path: bad, bufferSize: size)
                do {
                    while try r.next() != nil {}
                    Issue.record("the bad line \(badLine) was accepted")
                } catch let e as TraceReadError {
                    #expect(e.line == 42, "\(e)")
                }
            }
        }
    }

    private func decodeBoth(_ d: inout EventDecoder, _ line: String) throws -> (TraceEvent?, TraceEvent) {
        var bytes = Array(line.utf8)
        let f = bytes.withUnsafeBytes { d.fastEvent($0) }
        let g = try bytes.withUnsafeMutableBytes { try d.generalEvent(UnsafeRawBufferPointer($0)) }
        return (f, g)
    }
}
