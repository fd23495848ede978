import Foundation
import IavfModel
import IavfTrace
import Testing
@testable import IavfPF

/// Plays iavf's side of the admin queue on a `MemoryTransport` (avf-device-emulation.md §3):
/// 32-entry rings, one 4 KiB buffer per slot, ARQ fully posted with ARQT = 31.
final class FakeDriver {
    let t: MemoryTransport
    let vf: Int
    let atqBase: UInt64, arqBase: UInt64, atqBufs: UInt64, arqBufs: UInt64
    var ntu: UInt32 = 0          // ATQ next_to_use
    var arqNTC: UInt32 = 0       // ARQ next_to_clean

    init(_ t: MemoryTransport, vf: Int = 0) {
        self.t = t
        self.vf = vf
        let base = 0x100_0000 + UInt64(vf) * 0x10_0000
        atqBase = base; arqBase = base + 0x1000; atqBufs = base + 0x2000; arqBufs = base + 0x2000 + 32 * 4096
        initRings()
    }

    func initRings() {
        ntu = 0; arqNTC = 0
        for r in [AVFRegister.atqH, AVFRegister.atqT, AVFRegister.arqH, AVFRegister.arqT] { t.write32(vf: vf, r, 0) }
        t.write32(vf: vf, AVFRegister.atqLen, 32 | AVFRegister.lenEnable)
        t.write32(vf: vf, AVFRegister.arqLen, 32 | AVFRegister.lenEnable)
        t.write32(vf: vf, AVFRegister.atqBAL, UInt32(atqBase & 0xFFFF_FFFF)); t.write32(vf: vf, AVFRegister.atqBAH, UInt32(atqBase >> 32))
        t.write32(vf: vf, AVFRegister.arqBAL, UInt32(arqBase & 0xFFFF_FFFF)); t.write32(vf: vf, AVFRegister.arqBAH, UInt32(arqBase >> 32))
        for i in 0..<32 { postARQ(UInt32(i)) }
        t.write32(vf: vf, AVFRegister.arqT, 31)
        t.write32(vf: vf, AVFRegister.dynCtl01, 0x19)
    }

    func postARQ(_ i: UInt32) {
        var d = AQDescriptor()
        d.flags = AQDescriptor.Flag.buf | AQDescriptor.Flag.lb
        d.datalen = 4096
        let buf = arqBufs + UInt64(i) * 4096
        d.addrHigh = UInt32(buf >> 32); d.addrLow = UInt32(buf & 0xFFFF_FFFF)
        try! t.dmaWrite(arqBase + UInt64(i) * 32, d.bytes)
    }

    func send(_ op: UInt32, _ msg: [UInt8]) {
        var d = AQDescriptor()
        d.flags = AQDescriptor.Flag.si | (msg.isEmpty ? 0 : AQDescriptor.Flag.buf | AQDescriptor.Flag.rd)
        d.opcode = AQDescriptor.Opcode.sendToPF
        d.datalen = UInt16(msg.count)
        d.cookieHigh = op
        let buf = atqBufs + UInt64(ntu) * 4096
        if !msg.isEmpty { d.addrHigh = UInt32(buf >> 32); d.addrLow = UInt32(buf & 0xFFFF_FFFF); try! t.dmaWrite(buf, msg) }
        try! t.dmaWrite(atqBase + UInt64(ntu) * 32, d.bytes)
        ntu = (ntu + 1) % 32
        t.write32(vf: vf, AVFRegister.atqT, ntu)
    }

    var atqDone: Bool { t.read32(vf: vf, AVFRegister.atqH) == ntu }

    /// What iavf_clean_arq_element does: every descriptor up to ARQH, re-posted, ARQT = cleaned index.
    func receive() -> [(op: UInt32, status: Int32, payload: [UInt8])] {
        var out: [(UInt32, Int32, [UInt8])] = []
        while arqNTC != t.read32(vf: vf, AVFRegister.arqH) & 0x3FF {
            let d = AQDescriptor(bytes: try! t.dmaRead(arqBase + UInt64(arqNTC) * 32, count: 32))!
            #expect(d.flags & (AQDescriptor.Flag.dd | AQDescriptor.Flag.cmp) == AQDescriptor.Flag.dd | AQDescriptor.Flag.cmp)
            #expect(d.opcode == AQDescriptor.Opcode.sendToVF)
            let payload = d.datalen > 0 ? try! t.dmaRead(d.bufferAddress, count: Int(d.datalen)) : []
            out.append((d.cookieHigh, d.virtchnlStatus, payload))
            postARQ(arqNTC)
            t.write32(vf: vf, AVFRegister.arqT, arqNTC)
            arqNTC = (arqNTC + 1) % 32
        }
        return out
    }
}

@Suite("PF admin queue: rings, replies, interrupts, resets, faults")
struct MailboxTests {
    func setUp(vfs: Int = 1, _ configure: (inout PFEmulator.Options) -> Void = { _ in }) -> (MemoryTransport, PFEmulator) {
        let t = MemoryTransport(vfCount: vfs)
        var o = PFEmulator.Options()
        o.resetMs = 0
        configure(&o)
        let pf = PFEmulator(transport: t, options: o)
        pf.start()
        return (t, pf)
    }

    func bringUp(_ d: FakeDriver, _ pf: PFEmulator) {
        d.send(VC.version, VersionInfo(major: 1, minor: 1).bytes)
        pf.step()
        d.send(VC.getVFResources, [0xF9, 0x80, 0xBD, 0x1A])
        pf.step()
        _ = d.receive()
    }

    @Test("attach publishes VFGEN_RSTAT = VFACTIVE")
    func attach() {
        let (t, _) = setUp(vfs: 2)
        #expect(t.read32(vf: 0, AVFRegister.rstat) == 2 && t.read32(vf: 1, AVFRegister.rstat) == 2)
    }

    @Test("VERSION: ATQ completed (DD|CMP, head = tail), reply in ARQ slot 0, ARQH 1, ICR01 bit 30, vector 0 raised")
    func versionRoundTrip() throws {
        let (t, pf) = setUp()
        let d = FakeDriver(t)
        d.send(VC.version, VersionInfo(major: 1, minor: 1).bytes)
        pf.step()
        #expect(d.atqDone)
        let done = try #require(AQDescriptor(bytes: try t.dmaRead(d.atqBase, count: 32)))
        #expect(done.flags & 0x3 == 0x3 && done.retval == 0)
        #expect(t.read32(vf: 0, AVFRegister.arqH) == 1)
        #expect(t.read32(vf: 0, AVFRegister.icr01) & AVFRegister.icrAdminQueue != 0)
        #expect(t.raised.count == 1 && t.raised[0].vector == 0)
        let replies = d.receive()
        #expect(replies.count == 1)
        #expect(replies[0].op == VC.version && replies[0].status == 0)
        #expect(replies[0].payload == VersionInfo(major: 1, minor: 1).bytes)
        // the driver's buffer address survives in the descriptor
        let slot = try #require(AQDescriptor(bytes: try t.dmaRead(d.arqBase, count: 32)))
        #expect(slot.bufferAddress == d.arqBufs)
    }

    @Test("no interrupt while DYN_CTL01 INTENA is clear (the driver polls)")
    func noInterruptWhenDisabled() {
        let (t, pf) = setUp()
        let d = FakeDriver(t)
        t.write32(vf: 0, AVFRegister.dynCtl01, 0)
        d.send(VC.version, VersionInfo(major: 1, minor: 1).bytes)
        pf.step()
        #expect(t.raised.isEmpty)
        #expect(d.receive().count == 1)
    }

    @Test("a full ARQ holds replies until the driver returns a slot; ring wrap-around keeps order")
    func arqBackPressure() {
        let (t, pf) = setUp()
        let d = FakeDriver(t)
        bringUp(d, pf)
        t.write32(vf: 0, AVFRegister.arqT, t.read32(vf: 0, AVFRegister.arqH))   // no free slot
        for _ in 0..<3 { d.send(VC.getStats, QueueSelect(rxQueues: 0, txQueues: 0).bytes) }
        pf.step()
        #expect(d.atqDone)
        #expect(pf.units[0].mailbox.outbox.count == 3)
        t.write32(vf: 0, AVFRegister.arqT, (t.read32(vf: 0, AVFRegister.arqH) + 31) % 32)
        pf.step()
        let got = d.receive()
        #expect(got.count == 3 && got.allSatisfy { $0.op == VC.getStats && $0.payload.count == 96 })
        for _ in 0..<70 {   // more than twice around both rings
            d.send(VC.getStats, QueueSelect(rxQueues: 0, txQueues: 0).bytes)
            pf.step()
            #expect(d.receive().map(\.op) == [VC.getStats])
        }
    }

    @Test("ADD/DEL_VLAN_V2 over the rings program the PF and write `pf` events to the trace")
    func vlanOverRingsWithTrace() throws {
        let path = NSTemporaryDirectory() + "pf-trace-\(getpid()).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try TraceWriter(path: path, header: TraceHeader(generation: nil, maxFilters: 8, source: .emulated))
        let (t, pf) = setUp { $0.trace = writer; $0.deviceNames = ["10000:00:00.0"] }
        let d = FakeDriver(t)
        bringUp(d, pf)
        d.send(VC.addVlanV2, VlanFilterListV2(innerVIDs: [100]).bytes)
        pf.step()
        #expect(d.receive().map(\.status) == [0])
        #expect(pf.state(vf: 0).vlans == [VlanKey(vid: 100)])
        d.send(VC.delVlanV2, VlanFilterListV2(innerVIDs: [100]).bytes)
        pf.step()
        #expect(d.receive().map(\.status) == [0])
        try writer.close()
        let reader = try TraceReader(path: path)
        var pfSets: [[VlanKey]] = []
        while let e = try reader.next() {
            #expect(e.dev == "10000:00:00.0")
            if case .pf(let vids, _) = e.body { pfSets.append(vids) }
        }
        #expect(pfSets == [[], [VlanKey(vid: 100)], []])
    }

    @Test("RESET_VF: no reply, mailbox registers cleared, RSTAT INPROGRESS then VFACTIVE, state forgotten")
    func vfReset() {
        let (t, pf) = setUp { $0.resetMs = 30 }
        let d = FakeDriver(t)
        bringUp(d, pf)
        d.send(VC.addVlanV2, VlanFilterListV2(innerVIDs: [100]).bytes)
        pf.step()
        _ = d.receive()
        d.send(VC.resetVF, [])
        pf.step()
        #expect(t.read32(vf: 0, AVFRegister.arqLen) == 0 && t.read32(vf: 0, AVFRegister.atqLen) == 0)
        #expect(t.read32(vf: 0, AVFRegister.rstat) == ResetStatus.inProgress.rawValue)
        #expect(pf.state(vf: 0).vlans.isEmpty && !pf.state(vf: 0).active)
        usleep(40_000)
        pf.step()
        #expect(t.read32(vf: 0, AVFRegister.rstat) == ResetStatus.vfActive.rawValue)
        d.initRings()
        d.send(VC.getVFResources, [0xF9, 0x80, 0xBD, 0x1A])   // no VERSION after a reset
        pf.step()
        #expect(d.receive().map(\.op) == [VC.getVFResources])
    }

    @Test("FLR event: the VF is reset like RESET_VF")
    func flr() {
        let (t, pf) = setUp { $0.flrResetMs = 0 }
        let d = FakeDriver(t)
        bringUp(d, pf)
        pf.step(events: PFEventBits.bit(vf: 0, PFEventBits.flr))
        #expect(t.read32(vf: 0, AVFRegister.arqLen) == 0)
        #expect(!pf.state(vf: 0).active)
    }

    @Test("faults: reject answers with the status and programs nothing; drop never answers; delay answers later")
    func faults() {
        let (t, pf) = setUp()
        let d = FakeDriver(t)
        bringUp(d, pf)
        pf.add(.reject(op: VC.addVlanV2, status: -5), vf: 0)
        d.send(VC.addVlanV2, VlanFilterListV2(innerVIDs: [100]).bytes)
        pf.step()
        #expect(d.receive().map(\.status) == [-5])
        #expect(pf.state(vf: 0).vlans.isEmpty)
        pf.add(.drop(op: VC.addVlanV2), vf: 0)
        d.send(VC.addVlanV2, VlanFilterListV2(innerVIDs: [101]).bytes)
        pf.step()
        #expect(d.atqDone && d.receive().isEmpty)
        #expect(pf.state(vf: 0).vlans == [VlanKey(vid: 101)])
        pf.add(.delay(op: VC.delVlanV2, ms: 30), vf: 0)
        d.send(VC.delVlanV2, VlanFilterListV2(innerVIDs: [101]).bytes)
        pf.step()
        #expect(d.receive().isEmpty)
        usleep(40_000)
        pf.step()
        #expect(d.receive().map(\.op) == [VC.delVlanV2])
        pf.add(.reject(op: VC.addVlanV2, status: -5), vf: 0)
        pf.add(.clear, vf: 0)
        d.send(VC.addVlanV2, VlanFilterListV2(innerVIDs: [102]).bytes)
        pf.step()
        #expect(d.receive().map(\.status) == [0], "a cleared reject no longer fires")
        pf.add(.link(up: false), vf: 0)
        let link = d.receive()
        #expect(link.map(\.op) == [VC.event] && link[0].payload[8] == 0)
        pf.add(.reset, vf: 0)
        let impending = d.receive()
        #expect(impending.map(\.op) == [VC.event] && impending[0].payload[0] == 2)
    }

    @Test("hostile rings never trap: bad buffer address, oversize datalen, tail outside the ring")
    func hostileRings() throws {
        let (t, pf) = setUp()
        var problems: [String] = []
        pf.units[0].mailbox.onProblem = { problems.append($0) }
        let d = FakeDriver(t)
        var desc = AQDescriptor()
        desc.flags = AQDescriptor.Flag.buf; desc.opcode = AQDescriptor.Opcode.sendToPF; desc.datalen = 8
        desc.cookieHigh = VC.version; desc.addrHigh = 0xFFFF_FFFF; desc.addrLow = 0
        try t.dmaWrite(d.atqBase, desc.bytes)
        desc.datalen = 9000; desc.addrHigh = 0; desc.addrLow = 0x200_0000
        try t.dmaWrite(d.atqBase + 32, desc.bytes)
        t.write32(vf: 0, AVFRegister.atqT, 2)
        pf.step()
        #expect(d.t.read32(vf: 0, AVFRegister.atqH) == 2)
        #expect(problems.count == 2)
        #expect(d.receive().isEmpty)
        t.write32(vf: 0, AVFRegister.atqT, 99)
        pf.step()
        #expect(problems.count == 3)
    }
}
