import LeadsyncCore
import LeadsyncRuntime
import LeadsyncSync
import LeadsyncValues
import Testing

/// What CallTools receives for a planned body: the full sets on a create, only the changes on a
/// PATCH, fields as top-level keys, nothing else.
@Suite struct WireTests {
    @Test func aCreateNamesTheFullSets() {
        let body = CallToolsBody(
            fields: [
                FieldValue(slug: "first_name", value: "Ana"),
                FieldValue(slug: "mobile_phone_number", value: "+14155550132"),
            ], addBuckets: [11237], addTags: [7], removeTags: [8])
        #expect(
            JSONWriter.encode(body.wire(forCreate: true))
                == #"{"first_name":"Ana","mobile_phone_number":"+14155550132","buckets":[11237],"tags":[7]}"#)
    }

    @Test func aPatchNamesOnlyTheChanges() {
        #expect(
            JSONWriter.encode(
                CallToolsBody(fields: [FieldValue(slug: "first_name", value: "Anna")]).wire(forCreate: false))
                == #"{"first_name":"Anna"}"#)
        let moves = CallToolsBody(addBuckets: [11252], removeBuckets: [11237], addTags: [8], removeTags: [7])
        #expect(
            JSONWriter.encode(moves.wire(forCreate: false))
                == #"{"add_buckets":[11252],"remove_buckets":[11237],"add_tags":[8],"remove_tags":[7]}"#)
    }
}
