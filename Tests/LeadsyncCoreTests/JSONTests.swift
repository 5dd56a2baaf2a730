import Testing

@testable import LeadsyncCore
@testable import LeadsyncValues

@Suite struct JSONTests {
    @Test func parsesEveryValueKind() throws {
        let json = try JSONParser.parse(
            #"{"s":"a\"b\\c\n\u00e9\ud83d\ude00","n":-12.5e1,"i":42,"t":true,"f":false,"z":null,"a":[1,[]],"o":{}}"#)
        #expect(json["s"] == .string("a\"b\\c\né😀"))
        #expect(json["n"] == .number(-125))
        #expect(json["i"] == .number(42))
        #expect(json["t"] == .bool(true))
        #expect(json["f"] == .bool(false))
        #expect(json["z"] == .null)
        #expect(json["a"] == .array([.number(1), .array([])]))
        #expect(json["o"] == .object(JSONObject()))
    }

    @Test func keepsKeyOrder() throws {
        let json = try JSONParser.parse(#"{"b":1,"a":2,"c":3}"#)
        #expect(json.objectValue?.keys == ["b", "a", "c"])
    }

    @Test(arguments: [
        (#"{"a":1"#, 6, "unexpected end of input in object"),
        (#"{"a" 1}"#, 5, "expected ':' after key, found character '1'"),
        (#"[1,]"#, 3, "unexpected character ']'"),
        (#"{"a":tru}"#, 5, "invalid literal (expected true, false or null)"),
        (#"{"a":1} x"#, 8, "unexpected character 'x' after the JSON value"),
        (#""\q""#, 1, "invalid escape '\\q'"),
        (#"01"#, 1, "unexpected character '1' after the JSON value"),
        (#"-"#, 0, "invalid number"),
        (#""\ud83d""#, 7, "unpaired surrogate in \\u escape"),
    ])
    func reportsErrorsWithOffsets(input: String, offset: Int, message: String) {
        #expect(throws: JSONParser.Error(message: message, offset: offset)) { try JSONParser.parse(input) }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
    }

    @Test func writerRoundTrips() throws {
        let text = #"{"a":"x\"y\n\u0001","b":[1,2.5,true,null],"c":{"d":-3}}"#
        let json = try JSONParser.parse(text)
        #expect(JSONWriter.encode(json) == text)
        #expect(try JSONParser.parse(JSONWriter.encode(json)) == json)
    }

    @Test func integralNumbersPrintWithoutFraction() {
        #expect(JSON.number(11237).scalarText == "11237")
        #expect(JSON.number(2.5).scalarText == "2.5")
        #expect(JSON.bool(true).scalarText == "true")
        #expect(JSON.null.scalarText == nil)
    }
}
