import IavfModel

/// Decodes one line of a trace into a header or an event, per trace-format.md.
/// Errors name the field; the reader adds the file and line.
struct EventDecoder {
    /// The last `dev` string, reused while lines repeat it (most traces hold one device).
    private var lastDev: String = ""
    private var lastDevBytes: [UInt8] = []
    /// The fast path's buffers (FastEventDecoder.swift).
    let scratch = ListScratch()
    let interner = StringInterner()

    mutating func header(_ line: UnsafeRawBufferPointer) throws -> TraceHeader {
        var s = JSONScanner(line)
        var format: String?, version: Int64?, generation: String?
        var h = TraceHeader(generation: nil)
        try s.object { s, key in
            if key.equals("format") { format = try s.string() }
            else if key.equals("version") { version = try s.int() }
            else if key.equals("generation") { generation = try s.string() }
            else if key.equals("kernel") { h.kernel = try s.string() }
            else if key.equals("vlan_mode") {
                let m = try s.string()
                guard let mode = VlanMode(rawValue: m) else { throw s.fail("\"\(m)\" is not \"v1\" or \"v2\"") }
                h.vlanMode = mode
            } else if key.equals("max_filters") {
                if !s.isNull() { h.maxFilters = Int(try s.int(in: 0...65535)) }
            } else if key.equals("mid_stream") {
                let c = s.peek()
                if c == UInt8(ascii: "t") { try s.skipValue(); h.midStream = true }
                else if c == UInt8(ascii: "f") { try s.skipValue() }
                else { throw s.fail("expected true or false") }
            } else if key.equals("source") {
                let src = try s.string()
                h.source = TraceHeader.Source(rawValue: src)
            } else { try s.skipValue() }
        }
        try trailing(&s)
        guard let format else { throw ScanError(field: "format", message: "missing (line 1 must be the header {\"format\":\"iavf-trace\",\"version\":1,...})") }
        guard format == "iavf-trace" else { throw ScanError(field: "format", message: "\"\(format)\" is not \"iavf-trace\"") }
        guard let version else { throw ScanError(field: "version", message: "missing") }
        guard version == 1 else { throw ScanError(field: "version", message: "version \(version) is not supported (this reader knows version 1)") }
        guard let generation else { throw ScanError(field: "generation", message: "missing (patched, unpatched or unknown)") }
        switch generation {
        case "patched": h.generation = .patched
        case "unpatched": h.generation = .unpatched
        case "unknown": h.generation = nil
        default: throw ScanError(field: "generation", message: "\"\(generation)\" is not patched, unpatched or unknown")
        }
        return h
    }

    private enum Kind {
        case addVid, killVid, send, reply, down, upComplete, open, close, reset, snapshot, settled,
             lost, mark, pf, caps, unknown
    }

    private static func kind(_ s: RawString) -> Kind {
        if s.equals("send") { return .send }
        if s.equals("reply") { return .reply }
        if s.equals("snapshot") { return .snapshot }
        if s.equals("add_vid") { return .addVid }
        if s.equals("kill_vid") { return .killVid }
        if s.equals("down") { return .down }
        if s.equals("up_complete") { return .upComplete }
        if s.equals("open") { return .open }
        if s.equals("close") { return .close }
        if s.equals("reset") { return .reset }
        if s.equals("settled") { return .settled }
        if s.equals("lost") { return .lost }
        if s.equals("mark") { return .mark }
        if s.equals("pf") { return .pf }
        if s.equals("caps") { return .caps }
        return .unknown
    }

    mutating func event(_ line: UnsafeRawBufferPointer) throws -> TraceEvent {
        if let e = fastEvent(line) { return e }
        return try generalEvent(line)
    }

    /// Any line the contract allows (and every error it names).
    mutating func generalEvent(_ line: UnsafeRawBufferPointer) throws -> TraceEvent {
        var s = JSONScanner(line)
        var seq: Int64?, tNs: Int64?, dev: String?
        var kind: Kind?, kindName = ""
        var vid: UInt16?, tpid: UInt16?, phase: TraceEvent.Phase?, ret: Int32?
        var op: VirtchnlOp?, vids: [VlanKey]?, retval: Int32?
        var filters: [TraceEvent.SnapshotFilter]?, count: Int64?, at: String?
        var reason: String?, text: String?, result: TraceEvent.MarkResult?, maxFilters: Int?
        var port: TraceEvent.PFPortState?

        try s.object { s, key in
            guard let first = key.raw.first, !key.hasEscapes else { try s.skipValue(); return }
            switch first {
            case UInt8(ascii: "s"):
                if key.equals("seq") { s.field = "seq"; seq = try s.int(); return }
                if key.equals("state") { break }
            case UInt8(ascii: "t"):
                if key.equals("t_ns") { s.field = "t_ns"; tNs = try s.int(); return }
                if key.equals("tpid") { s.field = "tpid"; tpid = UInt16(try s.int(in: 0...0xffff)); return }
                if key.equals("text") { s.field = "text"; text = try s.string(); return }
            case UInt8(ascii: "d"):
                if key.equals("dev") { s.field = "dev"; dev = try devString(&s); return }
            case UInt8(ascii: "e"):
                if key.equals("ev") {
                    s.field = "ev"
                    let k = try s.rawString()
                    kind = Self.kind(k)
                    if kind == .unknown { kindName = String(decoding: k.raw, as: UTF8.self) }
                    return
                }
            case UInt8(ascii: "v"):
                if key.equals("vid") { s.field = "vid"; vid = UInt16(try s.int(in: 0...4095)); return }
                if key.equals("vids") { s.field = "vids"; vids = try vidList(&s); return }
            case UInt8(ascii: "p"):
                if key.equals("phase") { s.field = "phase"; phase = try phaseValue(&s); return }
                if key.equals("port") { s.field = "port"; if !s.isNull() { port = try portValue(&s) }; return }
            case UInt8(ascii: "r"):
                if key.equals("ret") { s.field = "ret"; if !s.isNull() { ret = Int32(try s.int(in: -4095...4095)) }; return }
                if key.equals("retval") { s.field = "retval"; retval = Int32(try s.int(in: Int64(Int32.min)...Int64(Int32.max))); return }
                if key.equals("reason") { s.field = "reason"; if !s.isNull() { reason = try s.string() }; return }
                if key.equals("result") { s.field = "result"; if !s.isNull() { result = try resultValue(&s) }; return }
            case UInt8(ascii: "o"):
                if key.equals("op") { s.field = "op"; op = try opValue(&s); return }
            case UInt8(ascii: "f"):
                if key.equals("filters") { s.field = "filters"; filters = try filterList(&s); return }
            case UInt8(ascii: "c"):
                if key.equals("count") { s.field = "count"; count = try s.int(in: 0...Int64(Int32.max)); return }
            case UInt8(ascii: "a"):
                if key.equals("at") { s.field = "at"; if !s.isNull() { at = try s.string() }; return }
            case UInt8(ascii: "m"):
                if key.equals("max_filters") { s.field = "max_filters"; if !s.isNull() { maxFilters = Int(try s.int(in: 0...65535)) }; return }
            default: break
            }
            try s.skipValue()
        }
        try trailing(&s)

        guard let seq else { throw missing("seq") }
        guard let tNs else { throw missing("t_ns") }
        guard let dev else { throw missing("dev") }
        guard let kind else { throw missing("ev") }

        func need<T>(_ v: T?, _ name: String) throws -> T {
            guard let v else { throw missing(name) }
            return v
        }
        func exitRet(_ p: TraceEvent.Phase) throws -> Int32? {
            if p == .exit { return try need(ret, "ret") }
            return ret
        }

        let body: TraceEvent.Body
        switch kind {
        case .addVid, .killVid:
            let key = VlanKey(vid: try need(vid, "vid"), tpid: tpid ?? VlanKey.ctag)
            let p = try need(phase, "phase")
            let r = try exitRet(p)
            body = kind == .addVid ? .addVid(key: key, phase: p, ret: r) : .killVid(key: key, phase: p, ret: r)
        case .send:
            let o = try need(op, "op")
            body = .send(op: o, vids: o.isVlanFilterOp ? try need(vids, "vids") : (vids ?? []), ret: ret)
        case .reply: body = .reply(op: try need(op, "op"), retval: try need(retval, "retval"))
        case .down: body = .down(phase: try need(phase, "phase"))
        case .upComplete: body = .upComplete(phase: try need(phase, "phase"))
        case .reset: body = .reset(phase: try need(phase, "phase"))
        case .open, .close:
            let p = try need(phase, "phase")
            let r = try exitRet(p)
            body = kind == .open ? .open(phase: p, ret: r) : .close(phase: p, ret: r)
        case .snapshot: body = .snapshot(filters: try need(filters, "filters"), count: Int(try need(count, "count")), at: at)
        case .settled: body = .settled(reason: reason)
        case .lost: body = .lost(count: try need(count, "count"))
        case .mark: body = .mark(text: try need(text, "text"), result: result)
        case .pf: body = .pf(vids: try need(vids, "vids"), port: port)
        case .caps: body = .caps(maxFilters: maxFilters)
        case .unknown: body = .unknown(kind: kindName)
        }
        return TraceEvent(seq: seq, tNs: tNs, dev: dev, body)
    }

    private func missing(_ field: String) -> ScanError {
        ScanError(field: field, message: "missing (required)")
    }

    private func trailing(_ s: inout JSONScanner) throws {
        if s.peek() != nil { throw s.fail("unexpected text after the object") }
    }

    private mutating func devString(_ s: inout JSONScanner) throws -> String {
        let r = try s.rawString()
        if !r.hasEscapes, r.raw.count == lastDevBytes.count,
           lastDevBytes.withUnsafeBytes({ memcmp($0.baseAddress!, r.raw.baseAddress!, r.raw.count) == 0 }) {
            return lastDev
        }
        guard !r.hasEscapes, let v = String(validating: r.raw, as: UTF8.self) else {
            throw s.fail("dev must be a plain string (no escapes)")
        }
        lastDev = v
        lastDevBytes = Array(r.raw)
        return v
    }

    /// The VLAN opcodes without building a String; the rest by name.
    private func opValue(_ s: inout JSONScanner) throws -> VirtchnlOp {
        let r = try s.rawString()
        if r.equals("ADD_VLAN_V2") { return .addVlanV2 }
        if r.equals("DEL_VLAN_V2") { return .delVlanV2 }
        if r.equals("ADD_VLAN") { return .addVlan }
        if r.equals("DEL_VLAN") { return .delVlan }
        guard !r.hasEscapes, let name = String(validating: r.raw, as: UTF8.self) else { throw s.fail("op must be a plain name") }
        return VirtchnlOp.named(name)
    }

    private func phaseValue(_ s: inout JSONScanner) throws -> TraceEvent.Phase {
        let r = try s.rawString()
        if r.equals("enter") { return .enter }
        if r.equals("exit") { return .exit }
        throw s.fail("\"\(String(decoding: r.raw, as: UTF8.self))\" is not \"enter\" or \"exit\"")
    }

    private func resultValue(_ s: inout JSONScanner) throws -> TraceEvent.MarkResult {
        let r = try s.rawString()
        if r.equals("PASS") { return .PASS }
        if r.equals("FAIL") { return .FAIL }
        if r.equals("SKIP") { return .SKIP }
        throw s.fail("\"\(String(decoding: r.raw, as: UTF8.self))\" is not PASS, FAIL or SKIP")
    }

    private func stateValue(_ s: inout JSONScanner) throws -> FilterState {
        let r = try s.rawString()
        // Most frequent first.
        if r.equals("ACTIVE") { return .ACTIVE }
        if r.equals("ADD") { return .ADD }
        if r.equals("ADDING") { return .ADDING }
        if r.equals("IS_NEW") { return .IS_NEW }
        if r.equals("REMOVE") { return .REMOVE }
        if r.equals("REMOVING") { return .REMOVING }
        if r.equals("DISABLE") { return .DISABLE }
        if r.equals("INACTIVE") { return .INACTIVE }
        if r.equals("INVALID") { return .INVALID }
        throw s.fail("\"\(String(decoding: r.raw, as: UTF8.self))\" is not a filter state (INVALID, ADD, IS_NEW, ADDING, ACTIVE, DISABLE, INACTIVE, REMOVE, REMOVING)")
    }

    private static func tooLong(_ s: JSONScanner) -> ScanError {
        s.fail("more than \(TraceEvent.maxListEntries) entries; a VF's list holds at most 4094 VIDs for each of its two TPIDs")
    }

    /// `[[vid, tpid], ...]`
    /// The emulated PF's `port` object of a `pf` event; unknown members are skipped.
    private func portValue(_ s: inout JSONScanner) throws -> TraceEvent.PFPortState {
        var p = TraceEvent.PFPortState()
        func count(_ s: inout JSONScanner) throws -> Int { Int(try s.int(in: 0...Int64(Int32.max))) }
        try s.object { s, key in
            if key.equals("pvid") { p.pvid = UInt16(try s.int(in: 0...4095)) }
            else if key.equals("spoofchk") { p.spoofchk = try s.bool() }
            else if key.equals("trust") { p.trusted = try s.bool() }
            else if key.equals("link") { p.linkUp = try s.bool() }
            else if key.equals("tx") { p.counters.tx = try count(&s) }
            else if key.equals("rx") { p.counters.rx = try count(&s) }
            else if key.equals("drops") {
                try s.object { s, k in
                    if k.equals("vlan") { p.counters.vlan = try count(&s) }
                    else if k.equals("spoof") { p.counters.spoof = try count(&s) }
                    else if k.equals("link") { p.counters.link = try count(&s) }
                    else if k.equals("bad_desc") { p.counters.badDescriptor = try count(&s) }
                    else if k.equals("no_buffer") { p.counters.noBuffer = try count(&s) }
                    else if k.equals("no_route") { p.counters.noRoute = try count(&s) }
                    else { try s.skipValue() }
                }
            } else { try s.skipValue() }
        }
        return p
    }

    private func vidList(_ s: inout JSONScanner) throws -> [VlanKey] {
        var out: [VlanKey] = []
        try s.array { s in
            guard out.count < TraceEvent.maxListEntries else { throw Self.tooLong(s) }
            var pair: [Int64] = []
            try s.array { s in
                guard pair.count < 2 else { throw s.fail("each element must be [vid, tpid]") }
                pair.append(try s.int(in: 0...0xffff))
            }
            guard pair.count == 2 else { throw s.fail("each element must be [vid, tpid]") }
            guard pair[0] <= 4095 else { throw s.fail("vid \(pair[0]) is out of range 0...4095") }
            out.append(VlanKey(vid: UInt16(pair[0]), tpid: UInt16(pair[1])))
        }
        return out
    }

    /// `[{"vid":..,"tpid":..,"state":".."}, ...]`
    private func filterList(_ s: inout JSONScanner) throws -> [TraceEvent.SnapshotFilter] {
        var out: [TraceEvent.SnapshotFilter] = []
        try s.array { s in
            guard out.count < TraceEvent.maxListEntries else { throw Self.tooLong(s) }
            var vid: UInt16?, tpid: UInt16?, state: FilterState?
            try s.object { s, key in
                if key.equals("vid") { vid = UInt16(try s.int(in: 0...4095)) }
                else if key.equals("tpid") { tpid = UInt16(try s.int(in: 0...0xffff)) }
                else if key.equals("state") { state = try stateValue(&s) }
                else { try s.skipValue() }
            }
            guard let vid else { throw ScanError(field: "filters[].vid", message: "missing (required)") }
            guard let state else { throw ScanError(field: "filters[].state", message: "missing (required)") }
            out.append(TraceEvent.SnapshotFilter(key: VlanKey(vid: vid, tpid: tpid ?? VlanKey.ctag), state: state))
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
