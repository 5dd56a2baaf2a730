import LeadsyncValues

/// A condition compiled to nested closures, once, when the engine is built.
///
/// `Condition` is the readable tree (traces, diagnostics, tests); walking it per contact means
/// pattern-matching an indirect enum, and every match copies its payload (tag lists, literals,
/// paths), each copy a retain and a release. A closure specialised per node only borrows what
/// it captured, which is what brings evaluation near hand-written speed.
///
/// A program returns -1 when the condition holds, else the id of the node
/// that failed first.
///
/// Programs are stored as this class, never as bare closures in an array: a closure kept in a
/// generic container is held in its most abstract form and every call pays two reabstraction
/// thunks (measured: a sixth of evaluation time). A class, so that the engine can call a program
/// through `Unmanaged` (see `Programs`) without retaining its closure's context per call.
final class ConditionProgram: Sendable {
    typealias Function = @Sendable (borrowing Contact, borrowing ContactState, Timestamp) -> Int32
    let run: Function

    init(_ condition: Condition) { run = ConditionProgram.compile(condition) }
    init(function: @escaping Function) { run = function }

    static func compile(_ condition: Condition) -> Function {
        switch condition {
        case .all(let children, _):
            let fns = children.map(ConditionProgram.init)
            if fns.count == 1 { return fns[0].run }
            if fns.count == 2 {
                let a = fns[0].run, b = fns[1].run
                return { c, s, t in
                    let f = a(c, s, t)
                    return f >= 0 ? f : b(c, s, t)
                }
            }
            return { c, s, t in
                for fn in fns {
                    let f = fn.run(c, s, t)
                    if f >= 0 { return f }
                }
                return -1
            }
        case .any(let children, let id):
            let fns = children.map(ConditionProgram.init)
            if fns.count == 2 {
                let a = fns[0].run, b = fns[1].run
                return { c, s, t in a(c, s, t) < 0 || b(c, s, t) < 0 ? -1 : id }
            }
            return { c, s, t in
                for fn in fns where fn.run(c, s, t) < 0 { return -1 }
                return id
            }
        case .not(let inner, let id):
            let fn = compile(inner)
            return { c, s, t in fn(c, s, t) < 0 ? id : -1 }
        case .markedCustomer(let id):
            return { _, s, _ in s.markedCustomer ? -1 : id }
        case .tags(let test, let id):
            return compileTags(test, id)
        case .field(let path, let test, let id):
            return compileField(path, test, id)
        }
    }

    static func compileTags(_ test: TagTest, _ id: Int32) -> Function {
        switch test {
        case .has(let set), .anyOf(let set):
            if set.names.count == 1 {
                let hash = set.hashes[0], name = set.names[0]
                return { c, _, _ in
                    let s = c.storage
                    for i in 0..<s.tagHashes.count where s.tagHashes[i] == hash && s.foldedTags[i] == name { return -1 }
                    return id
                }
            }
            return { c, _, _ in
                let s = c.storage
                for i in 0..<s.tagHashes.count where set.contains(hash: s.tagHashes[i], name: s.foldedTags[i]) {
                    return -1
                }
                return id
            }
        case .anyMatches(let regex):
            return { c, _, _ in
                let s = c.storage
                for i in 0..<s.foldedTags.count where regex.matches(s.foldedTags[i]) { return -1 }
                return id
            }
        case .allOf, .noneOf, .anyContains, .count:
            return { c, _, _ in Engine.holds(test, c) ? -1 : id }
        }
    }

    static func compileField(_ path: FieldPath, _ test: FieldTest, _ id: Int32) -> Function {
        // The common paths: one top-level field, looked up by name without building a path walk.
        if case .field(let name, let rest) = path, rest.isEmpty {
            let key = TagHash.of(name)
            switch test {
            // These read the value in place (`withField`), without copying it out.
            case .isEmpty:
                return { c, _, _ in
                    c.withField(name, hash: key) { entry in
                        switch entry?.pointee.value {
                        case nil, .null?: return -1
                        case .string(let s)?: return s.isEmpty ? -1 : id
                        case .array(let a)?: return a.isEmpty ? -1 : id
                        case .object(let o)?: return o.isEmpty ? -1 : id
                        default: return id
                        }
                    }
                }
            case .matches(let regex):
                return { c, _, _ in
                    c.withField(name, hash: key) { entry in
                        guard let entry else { return id }
                        if case .string(let s) = entry.pointee.value { return regex.matches(s) ? -1 : id }
                        return Engine.holds(test, entry.pointee.value, now: Timestamp(milliseconds: 0)) ? -1 : id
                    }
                }
            case .equals(let literal, _) where literal.text == "true" || literal.text == "false":
                // Booleans such as `dnd: true` need no text at all.
                let wanted = literal.text == "true"
                return { c, _, t in
                    c.withField(name, hash: key) { entry in
                        if case .bool(let b)? = entry?.pointee.value { return b == wanted ? -1 : id }
                        return Engine.holds(test, entry?.pointee.value, now: t) ? -1 : id
                    }
                }
            default:
                return { c, _, t in Engine.holds(test, c.field(name, hash: key), now: t) ? -1 : id }
            }
        }
        // A nested path (dndSettings.Call.status) or a special one (custom fields, tags).
        let read = FieldReader.compile(path)
        return { c, _, t in Engine.holds(test, read(c), now: t) ? -1 : id }
    }
}
