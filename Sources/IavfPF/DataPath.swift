import IavfModel
import IavfTrace

/// BAR0 registers and descriptor fields of the data path (iavf_register.h, iavf_type.h of 6.1;
/// facts only).
public enum AVFQueue {
    /// QTX_TAIL1(q), QRX_TAIL1(q), VFINT_DYN_CTLN1(v - 1).
    public static func txTail(_ q: Int) -> Int { 0x0000 + 4 * q }
    public static func rxTail(_ q: Int) -> Int { 0x2000 + 4 * q }
    public static func dynCtlN1(vector v: Int) -> Int { 0x3800 + 4 * (v - 1) }

    /// Tx descriptor qword 1: DTYPE in 3:0, CMD in 13:4, BUF_SZ in 47:34, L2TAG1 in 63:48.
    public static let dtypeData: UInt64 = 0x0, dtypeContext: UInt64 = 0x1, dtypeDescDone: UInt64 = 0xF
    public static let cmdEOP: UInt64 = 0x1, cmdRS: UInt64 = 0x2, cmdIL2TAG1: UInt64 = 0x8
    /// Context descriptor CMD bit: insert L2TAG2 (the tag is in bytes 4...5 of qword 0).
    public static let ctxIL2TAG2: UInt64 = 0x4
    public static let maxBuffer = 16 * 1024 - 1

    /// Rx write-back qword 1: status DD (0), EOF (1), L2TAG1P (2); length of the buffer in 51:38.
    public static let rxDD: UInt64 = 1 << 0, rxEOF: UInt64 = 1 << 1, rxL2TAG1P: UInt64 = 1 << 2
    public static let rxLengthShift: UInt64 = 38

    /// DYN_CTLN1: INTENA (bit 0) gates the vector; SWINT_TRIG (bit 2) asks for one now.
    public static let intena: UInt32 = 0x1, swintTrig: UInt32 = 0x4

    /// A Tx data descriptor as iavf writes it.
    public static func txData(buffer: UInt64, size: Int, eop: Bool, l2tag1: UInt16? = nil) -> [UInt8] {
        var w = ByteWriter(count: 16)
        var cmd: UInt64 = eop ? cmdEOP | cmdRS : 0
        if l2tag1 != nil { cmd |= cmdIL2TAG1 }
        w.u64(0, buffer)
        w.u64(8, dtypeData | cmd << 4 | UInt64(size) << 34 | UInt64(l2tag1 ?? 0) << 48)
        return w.bytes
    }
}

/// The emulated switch's view of one frame on the wire between the VFs: untagged bytes plus
/// the VLAN (0: untagged) and priority it travels on.
struct WireFrame {
    var bytes: [UInt8]
    var vid: UInt16
    var pcp: UInt16
}

/// The data path and the switch between the VFs: Tx rings drained into frames, ice's filters
/// (spoof check, VLAN filters on both sides, port VLAN, link and queue state), frames written
/// into the receiver's Rx ring, queue vectors raised. Every DMA stays inside the rings the VF
/// configured and the buffers its descriptors name; anything else is dropped and counted.
extension PFEmulator {
    /// Runs the data path until no Tx ring has work (raising vectors can make the guest
    /// transmit a reply at once: NAPI runs inside the raise), at most `rounds` times.
    func serviceDataPath(rounds: Int = 8) {
        for _ in 0..<rounds {
            var moved = false
            for u in units where u.resetDoneAt == nil { moved = serviceTx(u) || moved }
            for u in units where u.resetDoneAt == nil { raiseVectors(u) }
            if !moved { break }
        }
    }

    /// The driver's rings must be where iavf puts them: a buffer inside any VF's descriptor
    /// ring, at address 0, empty or too long, is not a buffer.
    func bufferOK(_ address: UInt64, _ count: Int) -> Bool {
        guard address != 0, count > 0, count <= AVFQueue.maxBuffer, address <= UInt64.max - UInt64(count) else { return false }
        let r = address..<(address + UInt64(count))
        for u in units {
            for ring in u.state.txRings.values where ring.span.overlaps(r) { return false }
            for ring in u.state.rxRings.values where ring.span.overlaps(r) { return false }
        }
        return true
    }

    func dataLog(_ u: Unit, _ s: String) {
        u.dataNotes += 1
        if u.dataNotes <= 50 { log("vf\(u.state.index): data path: \(s)") }
    }

    /// Takes every packet between the PF's head and QTX_TAIL of each enabled Tx queue,
    /// completes it (DESC_DONE in the EOP descriptor) and hands it to the switch. Returns
    /// whether any descriptor was consumed.
    @discardableResult
    func serviceTx(_ u: Unit) -> Bool {
        let s = u.state
        guard s.enabledTx != 0 else { return false }
        var moved = false
        for (q, ring) in s.txRings.sorted(by: { $0.key < $1.key }) where s.enabledTx & (1 << UInt32(q)) != 0 && ring.count > 0 {
            let tail = Int(transport.read32(vf: s.index, AVFQueue.txTail(q)))
            guard tail < ring.count else {
                if u.badTail[q] != tail { u.badTail[q] = tail; u.counters.badDescriptor += 1; dataLog(u, "Tx queue \(q) tail \(tail) outside the ring of \(ring.count)") }
                continue
            }
            var head = u.txHead[q] ?? 0
            while head != tail {
                // One packet: optional context descriptors, data descriptors up to EOP.
                var idx = head
                var parts: [(address: UInt64, size: Int)] = []
                var tag: UInt16?
                var eop: Int?
                var bad: String?
                while idx != tail {
                    let at = ring.base + UInt64(idx * ring.descriptorSize)
                    guard let d = try? transport.dmaRead(at, count: 16) else {
                        bad = bad ?? "descriptor \(idx) at 0x\(String(at, radix: 16)) cannot be read"
                        idx = (idx + 1) % ring.count
                        continue
                    }
                    let r = ByteReader(d)
                    let q0 = r.u64(0), q1 = r.u64(8)
                    let cmd = (q1 >> 4) & 0x3FF
                    switch q1 & 0xF {
                    case AVFQueue.dtypeContext:
                        if cmd & AVFQueue.ctxIL2TAG2 != 0 { tag = UInt16(truncatingIfNeeded: q0 >> 32) }
                        if cmd & 0x1 != 0 { bad = bad ?? "TSO is not emulated" }
                    case AVFQueue.dtypeData:
                        parts.append((q0, Int((q1 >> 34) & 0x3FFF)))
                        if cmd & AVFQueue.cmdIL2TAG1 != 0 { tag = UInt16(truncatingIfNeeded: q1 >> 48) }
                        if cmd & AVFQueue.cmdEOP != 0 { eop = idx }
                    default:
                        bad = bad ?? "descriptor \(idx) has type \(q1 & 0xF)"
                    }
                    idx = (idx + 1) % ring.count
                    if eop != nil { break }
                }
                // Without an EOP before the tail the driver handed over a partial packet: drop it all.
                if eop == nil { bad = bad ?? "no end-of-packet descriptor before the tail" }
                var frame: [UInt8] = []
                if bad == nil {
                    for p in parts where p.size > 0 || parts.count == 1 {
                        guard bufferOK(p.address, p.size), frame.count + p.size <= AVFQueue.maxBuffer else {
                            bad = "buffer 0x\(String(p.address, radix: 16)) (\(p.size) B) is not a packet buffer"; break
                        }
                        guard let b = try? transport.dmaRead(p.address, count: p.size) else {
                            bad = "buffer 0x\(String(p.address, radix: 16)) (\(p.size) B) is not RAM"; break
                        }
                        frame += b
                    }
                }
                if let e = eop {
                    var w = ByteWriter(count: 8)
                    w.u64(0, AVFQueue.dtypeDescDone)
                    try? transport.dmaWrite(ring.base + UInt64(e * ring.descriptorSize) + 8, w.bytes)
                    u.txCompleted += 1
                }
                if let v = s.txVector(queue: q) { u.pendingVectors.insert(v) }
                head = idx
                moved = true
                if let bad {
                    u.counters.badDescriptor += 1
                    dataLog(u, "Tx queue \(q): packet dropped: \(bad)")
                } else {
                    u.counters.tx += 1
                    forward(frame, hardwareTag: tag, from: u)
                }
            }
            u.txHead[q] = head
        }
        return moved
    }

    /// The switch: ice's Tx checks on the sender, forwarding by destination MAC, Rx checks
    /// on each receiver.
    func forward(_ raw: [UInt8], hardwareTag: UInt16?, from a: Unit) {
        let sa = a.state
        guard raw.count >= 14 else { a.counters.badDescriptor += 1; dataLog(a, "runt frame of \(raw.count) B dropped"); return }
        guard sa.linkUp else { a.counters.link += 1; return }
        var bytes = raw
        var tci = hardwareTag
        if tci == nil && bytes.count >= 18 && bytes[12] == 0x81 && bytes[13] == 0x00 {
            tci = UInt16(bytes[14]) << 8 | UInt16(bytes[15])
            bytes.removeSubrange(12..<16)
        }
        if sa.policy.spoofCheck && !sa.owns(mac: bytes[6..<12]) { a.counters.spoof += 1; return }
        let vid = (tci ?? 0) & 0xFFF, pcp = (tci ?? 0) >> 13
        let wire: UInt16
        if sa.policy.portVlan != 0 {
            guard vid == 0 else { a.counters.vlan += 1; return }   // the port VLAN owns the tag
            wire = sa.policy.portVlan
        } else {
            guard vid == 0 || sa.vlans.contains(VlanKey(vid: vid)) else { a.counters.vlan += 1; return }
            wire = vid
        }
        let frame = WireFrame(bytes: bytes, vid: wire, pcp: pcp)
        let multicast = bytes[0] & 1 != 0
        let targets = units.filter { $0 !== a && (multicast || $0.state.owns(mac: bytes[0..<6])) }
        guard !targets.isEmpty else { a.counters.noRoute += 1; return }
        for b in targets { deliver(frame, to: b) }
    }

    /// Rx checks on the receiver, then the frame into its Rx queue 0.
    func deliver(_ f: WireFrame, to b: Unit) {
        let sb = b.state
        guard b.resetDoneAt == nil, sb.active, sb.linkUp, sb.enabledRx & 1 != 0, let ring = sb.rxRings[0] else {
            b.counters.link += 1; return
        }
        var tag: UInt16?
        if sb.policy.portVlan != 0 {
            guard f.vid == sb.policy.portVlan else { b.counters.vlan += 1; return }
        } else if f.vid != 0 {
            guard sb.vlans.contains(VlanKey(vid: f.vid)) else { b.counters.vlan += 1; return }
            tag = f.pcp << 13 | f.vid
        }
        var bytes = f.bytes
        var l2tag1: UInt16?
        if let tag {
            if sb.rxStripping { l2tag1 = tag } else { bytes.insert(contentsOf: [0x81, 0x00, UInt8(tag >> 8), UInt8(tag & 0xFF)], at: 12) }
        }
        if writeRx(bytes, l2tag1: l2tag1, into: b, ring: ring, queue: 0) {
            b.counters.rx += 1
            if let v = sb.rxVector(queue: 0) { b.pendingVectors.insert(v) }
        }
    }

    /// Writes a frame into the descriptors between the PF's Rx head and QRX_TAIL (one per
    /// `bufferSize` bytes), each buffer then its write-back with qword 1 last.
    func writeRx(_ bytes: [UInt8], l2tag1: UInt16?, into b: Unit, ring: QueueRing, queue q: Int) -> Bool {
        let i = b.state.index
        let tail = Int(transport.read32(vf: i, AVFQueue.rxTail(q)))
        guard tail < ring.count, ring.bufferSize > 0 else {
            b.counters.badDescriptor += 1; dataLog(b, "Rx queue \(q) tail \(tail) outside the ring of \(ring.count)"); return false
        }
        let head = b.rxHead[q] ?? 0
        let free = (tail - head + ring.count) % ring.count
        let need = max(1, (bytes.count + ring.bufferSize - 1) / ring.bufferSize)
        guard need <= free else { b.counters.noBuffer += 1; return false }
        var buffers: [UInt64] = []
        for k in 0..<need {
            let at = ring.base + UInt64(((head + k) % ring.count) * ring.descriptorSize)
            guard let d = try? transport.dmaRead(at, count: 8) else {
                b.counters.badDescriptor += 1; dataLog(b, "Rx descriptor at 0x\(String(at, radix: 16)) cannot be read"); return false
            }
            let address = ByteReader(d).u64(0)
            guard bufferOK(address, ring.bufferSize) else {
                b.counters.badDescriptor += 1; dataLog(b, "Rx descriptor \((head + k) % ring.count): buffer 0x\(String(address, radix: 16)) is not a packet buffer"); return false
            }
            buffers.append(address)
        }
        for k in 0..<need {
            let chunk = Array(bytes[(k * ring.bufferSize)..<min(bytes.count, (k + 1) * ring.bufferSize)])
            let last = k == need - 1
            let at = ring.base + UInt64(((head + k) % ring.count) * ring.descriptorSize)
            do {
                try transport.dmaWrite(buffers[k], chunk)
                var low = ByteWriter(count: 8)
                low.u64(0, last && l2tag1 != nil ? UInt64(l2tag1!) << 16 : 0)
                try transport.dmaWrite(at, low.bytes)
                try transport.dmaWrite(at + 16, [UInt8](repeating: 0, count: 16))
                var q1: UInt64 = AVFQueue.rxDD | UInt64(chunk.count) << AVFQueue.rxLengthShift
                if last { q1 |= AVFQueue.rxEOF }
                if last && l2tag1 != nil { q1 |= AVFQueue.rxL2TAG1P }
                var w = ByteWriter(count: 8)
                w.u64(0, q1)
                try transport.dmaWrite(at + 8, w.bytes)
            } catch {
                b.counters.badDescriptor += 1; dataLog(b, "Rx write refused: \(error)"); return false
            }
        }
        b.rxHead[q] = (head + need) % ring.count
        return true
    }

    /// Raises the vectors owed an interrupt whose DYN_CTLN1 has INTENA; SWINT_TRIG (iavf_force_wb)
    /// asks for one now and clears itself. No auto-masking: NAPI tolerates extra interrupts.
    func raiseVectors(_ u: Unit) {
        let s = u.state
        guard s.enabledTx != 0 || s.enabledRx != 0 else { u.pendingVectors.removeAll(); return }
        for e in s.irqMap where e.vectorID > 0 && Int(e.vectorID) < Int(s.policy.maxVectors) {
            let v = Int(e.vectorID), reg = AVFQueue.dynCtlN1(vector: v)
            let ctl = transport.read32(vf: s.index, reg)
            if ctl & AVFQueue.swintTrig != 0 {
                transport.write32(vf: s.index, reg, ctl & ~AVFQueue.swintTrig)
                u.pendingVectors.insert(v)
            }
            if u.pendingVectors.contains(v) && ctl & AVFQueue.intena != 0 && transport.raise(vf: s.index, vector: v) {
                u.pendingVectors.remove(v)
            }
        }
    }

    /// Queue state the PF resets with the queues: heads to 0 on ENABLE_QUEUES (and the Tx tail
    /// register, which hardware clears with the queue), everything on CONFIG_VSI_QUEUES.
    func queuesChanged(_ u: Unit, op: UInt32, message: [UInt8]) {
        switch op {
        case VC.configVSIQueues:
            u.txHead.removeAll(); u.rxHead.removeAll(); u.badTail.removeAll()
        case VC.enableQueues:
            let sel = QueueSelect(message)
            for q in 0..<32 where sel.txQueues & (1 << UInt32(q)) != 0 && u.state.txRings[q] != nil {
                u.txHead[q] = 0
                transport.write32(vf: u.state.index, AVFQueue.txTail(q), 0)
            }
            for q in 0..<32 where sel.rxQueues & (1 << UInt32(q)) != 0 { u.rxHead[q] = 0 }
            u.badTail.removeAll()
        default: break
        }
    }

    /// The port's settings and counters for `pf` events.
    func portState(_ u: Unit) -> TraceEvent.PFPortState {
        TraceEvent.PFPortState(pvid: u.state.policy.portVlan, spoofchk: u.state.policy.spoofCheck,
                               trusted: u.state.policy.trusted, linkUp: u.state.linkUp, counters: u.counters)
    }
}
