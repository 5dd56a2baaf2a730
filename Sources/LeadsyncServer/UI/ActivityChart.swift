import LeadsyncValues

/// The overview's chart: webhooks per minute over the last hour as stacked bars, in inline SVG
/// rendered on the server (no script, no library). Pure: minutes in, markup out.
enum ActivityChart {
    static let colors = ["#2563eb", "#6b7280", "#dc2626"]
    static let names = ["accepted", "ignored", "refused"]

    static func svg(_ minutes: [WebhookActivity.Minute]) -> String {
        let width = 720.0
        let height = 160.0
        let left = 36.0
        let bottom = 20.0
        let plotHeight = height - bottom - 8
        let top = max(1, minutes.map { $0.counts.reduce(0, +) }.max() ?? 0)
        let scale = niceCeiling(top)
        let slot = (width - left) / Double(max(minutes.count, 1))
        let totals = (0..<3).map { k in minutes.reduce(0) { $0 + $1.counts[k] } }
        let summary =
            "Webhooks per minute over the last hour: \(totals[0]) accepted, \(totals[1]) ignored, "
            + "\(totals[2]) refused; busiest minute \(top == 1 && totals.allSatisfy { $0 == 0 } ? 0 : top)"
        var out =
            "<svg role=\"img\" aria-label=\"\(summary)\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" "
            + "width=\"100%\" id=\"activity\"><title>\(summary)</title>"
        // Grid: zero, half, top.
        for (fraction, label) in scale > 1 ? [(0.0, 0), (0.5, scale / 2), (1.0, scale)] : [(0.0, 0), (1.0, 1)] {
            let y = 8 + plotHeight * (1 - fraction)
            out += "<line x1=\"\(f(left))\" x2=\"\(Int(width))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#e5e7eb\"/>"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(label)</text>"
        }
        for (i, m) in minutes.enumerated() {
            var y = 8 + plotHeight
            for k in 0..<3 where m.counts[k] > 0 {
                let h = plotHeight * Double(m.counts[k]) / Double(scale)
                y -= h
                out +=
                    "<rect x=\"\(f(left + Double(i) * slot + 1))\" y=\"\(f(y))\" width=\"\(f(max(slot - 2, 1)))\" "
                    + "height=\"\(f(h))\" fill=\"\(colors[k])\"><title>\(m.counts[k]) \(names[k])</title></rect>"
            }
        }
        for (x, label, anchor) in [
            (left, "-60 min", "start"), ((left + width) / 2, "-30 min", "middle"), (width, "now", "end"),
        ] {
            out += "<text x=\"\(f(x))\" y=\"\(Int(height - 4))\" text-anchor=\"\(anchor)\">\(label)</text>"
        }
        out += "</svg><div class=\"legend\">"
        for k in 0..<3 { out += "<span style=\"--c:\(colors[k])\">\(names[k]) \(totals[k])</span>" }
        return out + "</div>"
    }

    /// 1, 2, 5, 10, 20, 50, … at or above `n`.
    static func niceCeiling(_ n: Int) -> Int {
        var step = 1
        while true {
            for m in [1, 2, 5] where step * m >= n { return step * m }
            if step > Int.max / 100 { return n }
            step *= 10
        }
    }

    /// A coordinate to a tenth of a unit.
    static func f(_ x: Double) -> String {
        let tenths = Int((x * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(abs(tenths % 10))"
    }
}
