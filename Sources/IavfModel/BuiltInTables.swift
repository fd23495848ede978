/// The two generations' transition tables (iavf-vlan-state-machine.md sections 2.2 and 2.3,
/// errata applied), in the text `iavf-check model` prints and `--model` reads: read them
/// against the spec; each row's Spec cell names the row it comes from. Parsed once at start
/// (a test parses and prints them back).
enum BuiltInTables {
    static let tables: [ModelTable] = [unpatched, patched].map { text in
        do { return try ModelText.parse(text, file: "built-in") } catch { fatalError("built-in table: \(error)") }
    }

    static let unpatched = """
    generation: unpatched
    title: Unpatched (6.1.170): spec section 2.2 with errata

    | From                                           | Event                   | To        | Side effects                   | Spec
    |------------------------------------------------|-------------------------|-----------|--------------------------------|---------------------------------------------------------
    | (none)                                         | UserAdd                 | ADD       | link at tail, count+1; ADD bit | 2.2 (none) UserAdd, key not found
    | REMOVE                                         | UserAdd                 | ADD       | ADD bit                        | 2.2 REMOVE UserAdd; erratum 3
    | ADD, IS_NEW, ACTIVE, DISABLE, INACTIVE         | UserAdd                 | unchanged |                                | 2.2 ADD..INACTIVE UserAdd
    | ADD                                            | UserKill                | freed     |                                | 2.2 ADD UserKill
    | IS_NEW, ACTIVE, DISABLE, INACTIVE, REMOVE      | UserKill                | REMOVE    | DEL bit                        | 2.2 IS_NEW..REMOVE UserKill
    | ADD                                            | WdAdd, chosen           | IS_NEW    | VID in message                 | 2.2 ADD WdAdd, chosen
    | ADD                                            | WdAdd, not allowed      | unchanged |                                | 2.2 ADD WdAdd, not allowed
    | DISABLE                                        | WdDel, chosen           | INACTIVE  | VID in message                 | 2.2 DISABLE WdDel, chosen
    | REMOVE                                         | WdDel, chosen           | freed     | VID in message                 | 2.2 REMOVE WdDel, chosen (freed at send)
    | DISABLE                                        | WdDel, not allowed      | INACTIVE  |                                | 2.2 DISABLE WdDel, not allowed
    | REMOVE                                         | WdDel, not allowed      | freed     |                                | 2.2 REMOVE WdDel, not allowed
    | IS_NEW                                         | Cpl(ADD_VLAN_V2, 0)     | ACTIVE    |                                | 2.2 IS_NEW Cpl(ADD_VLAN_V2, 0)
    | IS_NEW                                         | Cpl(ADD_VLAN_V2, err)   | freed     |                                | 2.2 IS_NEW Cpl(ADD_VLAN_V2, err): iavf_vlan_add_reject
    | IS_NEW                                         | Cpl(ADD_VLAN, 0)        | unchanged |                                | 2.2 IS_NEW Cpl(ADD_VLAN, 0): no V1 success handler (R5)
    | IS_NEW                                         | Cpl(ADD_VLAN, err)      | unchanged |                                | 2.2 IS_NEW Cpl(ADD_VLAN, err)
    # DEL completions change nothing: REMOVE entries were freed at send and DISABLE entries
    # stay INACTIVE whatever the result (erratum 2).
    | INACTIVE                                       | Cpl(DEL_VLAN[_V2], 0)   | unchanged |                                | 2.2 Cpl(DEL_VLAN*, any); erratum 2
    | INACTIVE                                       | Cpl(DEL_VLAN[_V2], err) | unchanged |                                | 2.2 Cpl(DEL_VLAN*, any); erratum 2
    | ADD, IS_NEW, ACTIVE, DISABLE, INACTIVE, REMOVE | Down                    | DISABLE   | DEL bit                        | 2.2 any Down; erratum 4 (DEL bit only if comms are up)
    | INACTIVE                                       | Open                    | ADD       | ADD bit                        | 2.2 INACTIVE Open; erratum 5 (at open exit, ret 0)
    | ADD, IS_NEW, ACTIVE, DISABLE, REMOVE           | Open                    | unchanged |                                | 2.2 DISABLE, others Open (R3)
    | ADD, IS_NEW, ACTIVE, DISABLE, INACTIVE, REMOVE | CfgResp                 | ADD       | ADD bit                        | 2.2 any CfgResp; erratum 1
    | ADD, IS_NEW, ACTIVE, DISABLE, INACTIVE, REMOVE | DisableVF               | freed     |                                | 2.2 any DisableVF
    """

    static let patched = """
    generation: patched
    title: Patched (6.1.176 and later): spec section 2.3 with errata

    | From                                  | Event                   | To        | Side effects                   | Spec
    |---------------------------------------|-------------------------|-----------|--------------------------------|----------------------------------------------------
    | (none)                                | UserAdd                 | ADD       | link at tail, count+1; ADD bit | 2.3 (none) UserAdd, not found
    | REMOVE                                | UserAdd                 | ACTIVE    |                                | 2.3 REMOVE UserAdd: cancel the queued DEL
    | REMOVING                              | UserAdd                 | ADD       | ADD bit                        | 2.3 REMOVING UserAdd; erratum 6
    | ADD, ADDING, ACTIVE                   | UserAdd                 | unchanged |                                | 2.3 ADD, ADDING, ACTIVE UserAdd
    | ADD                                   | UserKill                | freed     |                                | 2.3 ADD UserKill
    | ADDING, ACTIVE, REMOVE                | UserKill                | REMOVE    | DEL bit                        | 2.3 ADDING, ACTIVE, REMOVE UserKill
    | REMOVING                              | UserKill                | unchanged |                                | 2.3 REMOVING UserKill: no second DEL
    | ADD                                   | WdAdd, chosen           | ADDING    | VID in message                 | 2.3 ADD WdAdd, chosen
    | ADD                                   | WdAdd, not allowed      | unchanged |                                | 2.3 ADD WdAdd, not allowed
    | REMOVE                                | WdDel, chosen           | REMOVING  | VID in message                 | 2.3 REMOVE WdDel, chosen
    | REMOVE                                | WdDel, not allowed      | freed     |                                | 2.3 REMOVE WdDel, not allowed
    | ADDING                                | Cpl(ADD_VLAN_V2, 0)     | ACTIVE    |                                | 2.3 ADDING Cpl(ADD_VLAN_V2, 0)
    | ADDING                                | Cpl(ADD_VLAN, 0)        | ACTIVE    |                                | 2.3 ADDING Cpl(ADD_VLAN, 0): V1 success handler
    | ADDING                                | Cpl(ADD_VLAN_V2, err)   | freed     |                                | 2.3 ADDING Cpl(ADD_VLAN_V2, err): reject
    | ADDING                                | Cpl(ADD_VLAN, err)      | unchanged |                                | 2.3 ADDING Cpl(ADD_VLAN, err): stays for ever (S2)
    | REMOVING                              | Cpl(DEL_VLAN[_V2], 0)   | freed     |                                | 2.3 REMOVING Cpl(DEL_VLAN*, 0)
    | REMOVING                              | Cpl(DEL_VLAN[_V2], err) | ACTIVE    |                                | 2.3 REMOVING Cpl(DEL_VLAN*, err)
    | ADD, ADDING, ACTIVE, REMOVE, REMOVING | Down                    | unchanged |                                | 2.3 any Down
    | ADD, ADDING, ACTIVE, REMOVE, REMOVING | Open                    | unchanged |                                | 2.3 any Open (no restore: S1)
    | ADD, ADDING, ACTIVE, REMOVE, REMOVING | CfgResp                 | ADD       | ADD bit                        | 2.3 any CfgResp; erratum 1
    | ADD, ADDING, ACTIVE, REMOVE, REMOVING | DisableVF               | freed     |                                | 2.3 any DisableVF
    """
}
