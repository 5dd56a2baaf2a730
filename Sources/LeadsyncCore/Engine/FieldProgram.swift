import LeadsyncValues

/// A CallTools field template compiled to closures, once, when the engine is built: the
/// rendering every routed contact pays for.
///
/// `Template` stays the readable form (the parser's output, `Template.render` for the executor
/// and tests). Walking it per contact copies every part, expression, path and filter list out of
/// its enums, each copy a retain and a release: measured, that was most of the cost of a routed
/// contact's decision. A program borrows what its closures captured and looks fields up by hashes
/// computed here. Filters run through the same `Template.Filter.apply` as the template does,
/// so the two cannot render differently (`FieldProgramTests` compares them).
final class FieldProgram: Sendable {
    typealias Render = @Sendable (borrowing Contact, inout [String]) -> String?
    typealias Value = @Sendable (borrowing Contact, inout [String]) -> TemplateValue

    let slug: String
    let render: Render

    init(_ field: FieldTemplate, region: PhoneRegion) {
        slug = field.slug
        render = FieldProgram.compile(field.template, region: region)
    }

    /// `overrides` merged over `base` by slug, as `FieldTemplate.merge` merges templates.
    static func merge(_ base: [FieldProgram], _ overrides: [FieldProgram]) -> [FieldProgram] {
        var out = base
        for o in overrides {
            if let i = out.firstIndex(where: { $0.slug == o.slug }) { out[i] = o } else { out.append(o) }
        }
        return out
    }

    static func compile(_ template: Template, region: PhoneRegion) -> Render {
        let parts = template.parts
        if parts.count == 1, case .expression(let e) = parts[0] {
            let value = compile(e, region: region)
            return { c, notes in
                let text = value(c, &notes).text
                return text.isEmpty ? nil : text
            }
        }
        let pieces: [Piece] = parts.map { part in
            switch part {
            case .literal(let s): return Piece { _, _ in s }
            case .expression(let e):
                let value = compile(e, region: region)
                return Piece { c, notes in value(c, &notes).text }
            }
        }
        return { c, notes in
            var out = ""
            for piece in pieces { out += piece.text(c, &notes) }
            return out.isEmpty ? nil : out
        }
    }

    /// Kept in a struct, not as bare closures in an array (see `ConditionProgram`).
    struct Piece: Sendable {
        let text: @Sendable (borrowing Contact, inout [String]) -> String
    }

    /// The expression's value after its filters, each filter a closure around the one before.
    static func compile(_ e: Template.Expression, region: PhoneRegion) -> Value {
        let source = FieldReader.compile(e.path)
        var chain: Value = { c, _ in TemplateValue(source(c)) }
        let path = e.path
        for filter in e.filters {
            let previous = chain
            switch filter {
            case .default(.path(let p)):
                // The fallback is looked up by a hash computed here, not by its path per contact.
                let fallback = FieldReader.compile(p)
                chain = { c, notes in
                    let v = previous(c, &notes)
                    return v.isEmpty ? TemplateValue(fallback(c)) : v
                }
            default:
                chain = { c, notes in
                    filter.apply(previous(c, &notes), c, region: region, path: path) { notes.append($0) }
                }
            }
        }
        return chain
    }
}

/// A rules path compiled to a lookup with its first component's hash computed once: a top-level
/// field directly, any other path through `Contact.value(at:headHash:)`.
enum FieldReader {
    typealias Read = @Sendable (borrowing Contact) -> JSON?

    static func compile(_ path: FieldPath) -> Read {
        let hash = path.headHash
        if case .field(let name, let rest) = path, rest.isEmpty { return { c in c.field(name, hash: hash) } }
        return { c in c.value(at: path, headHash: hash) }
    }
}

/// Compiled programs the engine calls per contact, with unretained references beside them.
///
/// Calling a closure loaded from an array retains its context and releases it after the call:
/// the compiler cannot prove the array's memory stays put. That was two atomic operations per
/// condition and per field of every decision. `Programs` keeps the programs alive itself, so a
/// call through `_withUnsafeGuaranteedRef` on the unretained reference is safe and costs none.
struct Programs<Program: AnyObject & Sendable>: Sendable {
    let owned: [Program]
    private let refs: [Unmanaged<Program>]

    init(_ programs: [Program]) {
        owned = programs
        refs = programs.map { Unmanaged.passUnretained($0) }
    }

    var count: Int { refs.count }

    @inline(__always)
    func with<R>(_ i: Int, _ body: (Program) -> R) -> R {
        refs.withUnsafeBufferPointer { $0[i]._withUnsafeGuaranteedRef(body) }
    }
}
