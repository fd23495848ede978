import IavfModel
import Testing

/// The conforming traces of iavf-vlan-state-machine.md section 8, step by step.
private let v100 = VlanKey(vid: 100), v101 = VlanKey(vid: 101), v107 = VlanKey(vid: 107)

private func states(_ m: ReferenceModel) -> [String] { m.filters.map { "\($0.key.vid):\($0.state.rawValue)" } }

/// UserAdd, WdAdd, Cpl(ADD, 0): a filter the PF confirmed.
private func activeFilter(_ g: Generation, _ key: VlanKey = v100, mode: VlanMode = .v2) -> ReferenceModel {
    var m = ReferenceModel(generation: g, vlanMode: mode, maxFilters: mode == .v2 ? 8 : nil)
    m.userAdd(key, ret: 0, seq: 1)
    let op: VirtchnlOp = mode == .v2 ? .addVlanV2 : .addVlan
    m.send(op, vids: m.predictedMessage(op), seq: 2)
    m.reply(op, retval: 0, seq: 3)
    return m
}

@Suite("Spec section 8: conforming traces")
struct SpecTraceTests {
    @Test("T1 unpatched: a slow down/up deletes and re-adds the filter")
    func t1Unpatched() {
        var m = activeFilter(.unpatched)
        #expect(states(m) == ["100:ACTIVE"])
        m.closeEnter(seq: 4); m.down(seq: 5); m.closeExit()
        #expect(states(m) == ["100:DISABLE"] && m.delBit)
        #expect(m.predictedMessage(.delVlanV2) == [v100])
        m.send(.delVlanV2, vids: [v100], seq: 6)
        #expect(states(m) == ["100:INACTIVE"])
        m.reply(.delVlanV2, retval: 0, seq: 7)
        m.open(ret: 0, seq: 8)
        #expect(states(m) == ["100:ADD"] && m.addBit)
        m.send(.addVlanV2, vids: [v100], seq: 9)
        m.reply(.addVlanV2, retval: 0, seq: 10)
        #expect(states(m) == ["100:ACTIVE"] && m.isQuiescent)
    }

    @Test("T1 patched: down/up changes no VLAN state and sets no VLAN bit")
    func t1Patched() {
        var m = activeFilter(.patched)
        m.closeEnter(seq: 4); m.down(seq: 5); m.closeExit()
        #expect(states(m) == ["100:ACTIVE"] && m.isQuiescent)
        m.open(ret: 0, seq: 6)
        #expect(states(m) == ["100:ACTIVE"] && m.isQuiescent)
    }

    @Test("T2 unpatched (R3): a fast down/up leaves the filter INACTIVE while up")
    func t2FastDownUp() {
        var m = activeFilter(.unpatched)
        m.closeEnter(seq: 4); m.down(seq: 5); m.closeExit()
        m.open(ret: 0, seq: 6)
        #expect(states(m) == ["100:DISABLE"] && m.addBit && m.delBit)
        #expect(m.watchdogTick() == nil)          // ADD: nothing to send, bit cleared
        let next = m.watchdogTick()
        #expect(next?.op == .delVlanV2 && next?.vids == [v100])
        m.send(.delVlanV2, vids: [v100], seq: 7)
        #expect(states(m) == ["100:INACTIVE"] && m.isUp)
    }

    @Test("T3: delete then down: U resurrects the filter (R1), P frees it on the DEL reply")
    func t3DeleteThenDown() {
        var u = activeFilter(.unpatched, v107)
        u.userKill(v107, seq: 4)
        #expect(states(u) == ["107:REMOVE"])
        u.closeEnter(seq: 5); u.down(seq: 6); u.closeExit()
        #expect(states(u) == ["107:DISABLE"])
        #expect(u.entry(v107)?.last(.removeOverwrittenByDown)?.seq == 6)
        u.send(.delVlanV2, vids: [v107], seq: 7); u.reply(.delVlanV2, retval: 0, seq: 8)
        u.open(ret: 0, seq: 9)
        u.send(.addVlanV2, vids: u.predictedMessage(.addVlanV2), seq: 10); u.reply(.addVlanV2, retval: 0, seq: 11)
        #expect(states(u) == ["107:ACTIVE"] && u.count == 1)

        var p = activeFilter(.patched, v107)
        p.userKill(v107, seq: 4)
        p.closeEnter(seq: 5); p.down(seq: 6); p.closeExit()
        #expect(states(p) == ["107:REMOVE"])
        p.send(.delVlanV2, vids: [v107], seq: 7)
        #expect(states(p) == ["107:REMOVING"])
        p.reply(.delVlanV2, retval: 0, seq: 8)
        #expect(p.count == 0)
    }

    @Test("T4: a DEL the PF rejects: U has already freed the filter, P puts it back to ACTIVE")
    func t4RejectedDelete() {
        var u = activeFilter(.unpatched)
        u.userKill(v100, seq: 4)
        u.send(.delVlanV2, vids: [v100], seq: 5)
        #expect(u.count == 0)
        u.reply(.delVlanV2, retval: -5, seq: 6)
        #expect(u.count == 0)

        var p = activeFilter(.patched)
        p.userKill(v100, seq: 4)
        p.send(.delVlanV2, vids: [v100], seq: 5)
        p.reply(.delVlanV2, retval: -5, seq: 6)
        #expect(states(p) == ["100:ACTIVE"])
        #expect(p.entry(v100)?.last(.pfRefusedDelete) != nil)
    }

    @Test("T5 V1: U keeps IS_NEW after a successful ADD_VLAN (R5), P marks it ACTIVE; an error strands both")
    func t5V1() {
        #expect(states(activeFilter(.unpatched, mode: .v1)) == ["100:IS_NEW"])
        #expect(states(activeFilter(.patched, mode: .v1)) == ["100:ACTIVE"])
        for g in Generation.allCases {
            var m = ReferenceModel(generation: g, vlanMode: .v1)
            m.userAdd(v100, ret: 0, seq: 1)
            m.send(.addVlan, vids: [v100], seq: 2)
            m.reply(.addVlan, retval: -5, seq: 3)
            #expect(states(m) == [g == .unpatched ? "100:IS_NEW" : "100:ADDING"])
        }
    }

    @Test("T6: re-add before the DEL left: U re-sends an ADD, P cancels the DEL at once")
    func t6ReaddBeforeSend() {
        var u = activeFilter(.unpatched)
        u.userKill(v100, seq: 4); u.userAdd(v100, ret: 0, seq: 5)
        #expect(states(u) == ["100:ADD"] && u.addBit && u.delBit)
        var p = activeFilter(.patched)
        p.userKill(v100, seq: 4); p.userAdd(v100, ret: 0, seq: 5)
        #expect(states(p) == ["100:ACTIVE"] && p.delBit)
        #expect(p.watchdogTick() == nil && p.isQuiescent)   // the DEL finds nothing and clears the bit
    }

    @Test("T6: re-add after the DEL left: U creates a new entry, P goes REMOVING -> ADD and the reply leaves it")
    func t6ReaddAfterSend() {
        var u = activeFilter(.unpatched)
        u.userKill(v100, seq: 4); u.send(.delVlanV2, vids: [v100], seq: 5)
        u.userAdd(v100, ret: 0, seq: 6)
        #expect(states(u) == ["100:ADD"])
        var p = activeFilter(.patched)
        p.userKill(v100, seq: 4); p.send(.delVlanV2, vids: [v100], seq: 5)
        p.userAdd(v100, ret: 0, seq: 6)
        #expect(states(p) == ["100:ADD"])
        p.reply(.delVlanV2, retval: 0, seq: 7)
        #expect(states(p) == ["100:ADD"])
    }

    @Test("T7: the limit check comes before the lookup; vid 0 is never tracked")
    func t7Limit() {
        var m = ReferenceModel(generation: .patched, vlanMode: .v2, maxFilters: 8)
        for v in 100..<108 { m.userAdd(VlanKey(vid: UInt16(v)), ret: 0, seq: Int64(v)) }
        #expect(m.predictedAddResult(VlanKey(vid: 108)) == -5)
        #expect(m.predictedAddResult(VlanKey(vid: 100)) == -5)   // even for a VID already there
        #expect(m.predictedAddResult(VlanKey(vid: 0)) == 0)
        m.userAdd(VlanKey(vid: 0), ret: 0, seq: 200)
        #expect(m.count == 8)
    }

    @Test("T8 (S3): a reset's config reply turns every filter, deleted ones too, into ADD")
    func t8Reset() {
        for g in Generation.allCases {
            var m = activeFilter(g)
            m.userAdd(v101, ret: 0, seq: 4)
            m.send(.addVlanV2, vids: [v101], seq: 5); m.reply(.addVlanV2, retval: 0, seq: 6)
            m.userKill(v101, seq: 7)
            m.reset(seq: 8)
            #expect(m.isQuiescent)
            m.reply(.getVFResources, retval: 0, seq: 9)
            #expect(states(m) == ["100:ACTIVE", "101:REMOVE"], "V2: GET_VF_RESOURCES leaves filters alone (erratum 1)")
            m.reply(.getOffloadVlanV2Caps, retval: -5, seq: 10)
            #expect(states(m) == ["100:ADD", "101:ADD"], "whatever the retval")
            #expect(m.entry(v101)?.last(.resurrectedByConfigReply) != nil)
        }
        var v1 = activeFilter(.unpatched, mode: .v1)
        v1.reset(seq: 4)
        v1.reply(.getVFResources, retval: 0, seq: 5)
        #expect(states(v1) == ["100:ADD"], "V1: the GET_VF_RESOURCES reply converts")
    }

    @Test("T9 (S1): in P a close strips the ADD bit and the filter stays ADD after up; U recovers it")
    func t9StrandedAdd() {
        var p = ReferenceModel(generation: .patched)
        p.userAdd(v100, ret: 0, seq: 1)
        p.closeEnter(seq: 2); p.down(seq: 3); p.closeExit(); p.open(ret: 0, seq: 4)
        #expect(states(p) == ["100:ADD"] && p.isQuiescent)
        var u = ReferenceModel(generation: .unpatched)
        u.userAdd(v100, ret: 0, seq: 1)
        u.closeEnter(seq: 2); u.down(seq: 3); u.closeExit()
        u.send(.delVlanV2, vids: [v100], seq: 4); u.reply(.delVlanV2, retval: 0, seq: 5)
        u.open(ret: 0, seq: 6)
        #expect(states(u) == ["100:ADD"] && u.addBit)
    }

    @Test("a down is a no-op on an adapter that is already down")
    func downTwice() {
        var u = activeFilter(.unpatched)
        u.down(seq: 4)
        u.send(.delVlanV2, vids: [v100], seq: 5)
        u.down(seq: 6)
        #expect(states(u) == ["100:INACTIVE"])
    }
}

@Suite("Batching (section 2.5 and erratum 8)")
struct BatchingTests {
    /// Messages needed to re-add n filters that are all ADD (after a reset) with limit M.
    func messagesToAdd(_ n: Int, max: Int?, mode: VlanMode = .v2) -> [Int] {
        var m = ReferenceModel(generation: .patched, vlanMode: mode, maxFilters: max)
        for v in 1...n { m.userAdd(VlanKey(vid: UInt16(v)), ret: 0, seq: Int64(v)) }
        var sizes: [Int] = []
        while let (op, vids) = m.watchdogTick() {
            sizes.append(vids.count)
            m.send(op, vids: vids, seq: 0)
            m.reply(op, retval: 0, seq: 0)
        }
        return sizes
    }

    @Test("V2 clamp with M = 8: n = 1..4 one message, 5 two, 6 three, 7 seven, 8 one")
    func clamp() {
        #expect(messagesToAdd(4, max: 8) == [4])
        #expect(messagesToAdd(5, max: 8) == [3, 2])
        #expect(messagesToAdd(6, max: 8) == [2, 2, 2])
        #expect(messagesToAdd(7, max: 8) == [1, 1, 1, 1, 1, 1, 1])
        #expect(messagesToAdd(8, max: 8) == [8])
    }

    @Test("V2 capacity: 127 in one message, 253 as 126 + 127; V1: 4091 as 2045 + 2045 + 1")
    func capacity() {
        #expect(messagesToAdd(127, max: 4096) == [127])
        #expect(messagesToAdd(253, max: 4096) == [126, 127])
        #expect(messagesToAdd(4091, max: nil, mode: .v1) == [2045, 2045, 1])
    }

    @Test("the unpatched DEL takes DISABLE and REMOVE filters together, in list order")
    func mixedDelete() {
        var m = ReferenceModel(generation: .unpatched)
        for v in [100, 101, 102] as [UInt16] { m.userAdd(VlanKey(vid: v), ret: 0, seq: 1) }
        m.send(.addVlanV2, vids: m.predictedMessage(.addVlanV2), seq: 2)
        m.reply(.addVlanV2, retval: 0, seq: 3)
        m.userKill(VlanKey(vid: 101), seq: 4)
        m.down(seq: 5)
        m.userKill(VlanKey(vid: 102), seq: 6)
        #expect(m.predictedMessage(.delVlanV2).map(\.vid) == [100, 101, 102])
        m.send(.delVlanV2, vids: m.predictedMessage(.delVlanV2), seq: 7)
        #expect(m.filters.map { "\($0.key.vid):\($0.state.rawValue)" } == ["100:INACTIVE", "101:INACTIVE"])
    }
}

@Suite struct ProvenanceLifetimeTests {
    @Test("a filter's provenance leaves with it: freed and added again, it starts with none")
    func leavesWithFilter() {
        var p = activeFilter(.patched)
        p.userKill(v100, seq: 4)
        p.send(.delVlanV2, vids: [v100], seq: 5)
        p.reply(.delVlanV2, retval: -5, seq: 6)
        #expect(p.entry(v100)?.last(.pfRefusedDelete)?.seq == 6)
        p.userKill(v100, seq: 7)
        p.send(.delVlanV2, vids: [v100], seq: 8)
        p.reply(.delVlanV2, retval: 0, seq: 9)
        #expect(p.count == 0)
        p.userAdd(v100, ret: 0, seq: 10)
        #expect(p.entry(v100)?.state == .ADD)
        #expect(p.entry(v100)?.last(.pfRefusedDelete) == nil)
    }

    @Test("adopting a snapshot keeps the provenance of the filters still listed and drops the rest")
    func adoptKeeps() {
        var p = activeFilter(.patched)
        p.userAdd(v101, ret: 0, seq: 3)
        p.userKill(v100, seq: 4)
        p.send(.delVlanV2, vids: [v100], seq: 5)
        p.reply(.delVlanV2, retval: -5, seq: 6)
        p.adopt([Filter(key: v100, state: .ACTIVE)])
        #expect(p.entry(v100)?.last(.pfRefusedDelete)?.seq == 6)
        p.adopt([])
        p.adopt([Filter(key: v100, state: .INVALID)])
        #expect(p.entry(v100)?.state == .ADD)
        #expect(p.entry(v100)?.last(.pfRefusedDelete) == nil)
    }
}
