import Foundation
@testable import IavfPF
import Testing

@Suite struct ControlLoopTests {
    @Test("control lines arrive in pieces; faults are armed per VF, a bad line is reported and skipped")
    func takesLines() throws {
        let t = MemoryTransport(vfCount: 2)
        let emulator = PFEmulator(transport: t)
        let loop = try PFControlLoop(emulator: emulator, transport: t, control: nil)
        var bad: [String] = []
        loop.onBadLine = { line, _ in bad.append(line) }
        loop.take("reject ADD_VLAN_V2 vf=1\nfrobnicate")
        #expect(emulator.units[1].faults.count == 1 && emulator.units[0].faults.isEmpty)
        #expect(bad.isEmpty)   // the second line is not complete yet
        loop.take(" now\n\n  delay DEL_VLAN_V2 100 \n")
        #expect(bad == ["frobnicate now"])
        #expect(emulator.units.allSatisfy { $0.faults.count >= 1 })
        loop.take("clear\n")
        #expect(emulator.units.allSatisfy { $0.faults.isEmpty })
    }

    @Test("run stops when asked and after `started`")
    func runsUntilStopped() throws {
        let t = MemoryTransport(vfCount: 1)
        let loop = try PFControlLoop(emulator: PFEmulator(transport: t), transport: t, control: nil)
        var started = false, polls = 0
        loop.run(started: { started = true }, stop: { polls += 1; return polls > 3 })
        #expect(started && polls == 4)
    }

    @Test("the control FIFO is created and removed with the loop")
    func fifo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pf-ctl-\(UUID().uuidString)").path
        let t = MemoryTransport(vfCount: 1)
        var loop: PFControlLoop? = try PFControlLoop(emulator: PFEmulator(transport: t), transport: t, control: path)
        var st = stat()
        #expect(stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
        _ = loop
        loop = nil
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
