package rest

import (
	"reflect"
	"testing"
)

// driftedRFIs is an RFI page with the drift the tolerant types accept: ids as
// strings, a person as a bare id, people as one object or a bare id, an
// impact as a bare status, numbers where text is usual, escaped text,
// unknown fields of every shape, duplicate names and nulls.
const driftedRFIs = `[
 {"id":"9300000001","project_id":7300000001,"number":12,"subject":"Beam \"B-3\" \u00e9l\u00e9vation\nline 2",
  "status":"Open","draft":"no","private":0,"due_date":"2024-10-07T00:00:00Z","initiated_at":"2024-09-28 16:19:19",
  "ball_in_court":{"id":"5300000012","email_address":"p@x.example","first_name":"Priya","last_name":"Sanders"},
  "ball_in_courts":5300000013,"assignee":5300000008,"assignees":[{"id":1,"name":"A"},2,{"id":"3","login":"c@x"}],
  "rfi_manager":null,"received_from":{"id":4,"name":"Dup","name":"Last wins"},
  "responsible_contractor":{"id":6300000001,"name":"Apex"},"cost_code":"22-400",
  "cost_impact":"tbd","schedule_impact":{"status":"yes_known","value":"1,250.50"},
  "custom_fields":{"x":{"y":[1,2,{"z":null}]}},"drawing_ids":[1,2],"weird":[[],{}],
  "questions":[{"id":1,"body":null,"plain_text_body":"Q?","created_by":"Priya","attachments":[{"id":"7","name":"a.pdf"}],
   "answers":[{"id":2,"plain_text_body":"A.","official":"true","created_by":{"id":9,"name":"N"}}]}],
  "created_at":1727540359,"updated_at":"2024-10-29T05:17:06.123456Z"},
 {"id":9300000002,"subject":null,"status":null,"ball_in_court":null,"assignees":null,"questions":[]}
]`

const driftedSubmittals = `[
 {"id":"1","number":3,"title":"Shop drawings","type":"Shop Drawing","status":"Open",
  "specification_section":"03 30 00 - Cast-in-place","ball_in_court":[5,{"id":6,"name":"S"}],
  "submittal_manager":{"id":7,"login":"m@x"},"approvers":[{"id":1,"workflow_group_number":"2","user":8,
  "response":{"id":3,"name":"Approved","considered":"approved"},"response_required":"yes","sent_date":"2024-01-02"}],
  "distribution_members":{"id":9},"due_date":null,"created_at":"2024-01-01T00:00:00Z"}
]`

// TestEasyAndStandardDecodingAgree: the generated decoders and
// encoding/json/v2 read every sandbox page and every drifted payload into
// identical wire values, so the fast path changes nothing but speed.
func TestEasyAndStandardDecodingAgree(t *testing.T) {
	pages := samplePages(t)
	pages["drifted rfis"] = []byte(driftedRFIs)
	pages["drifted submittals"] = []byte(driftedSubmittals)
	agree := func(t *testing.T, name string, standard, easy func([]byte) (any, error)) {
		body := pages[name]
		want, err := standard(body)
		if err != nil {
			t.Fatalf("%s: standard decoding: %v", name, err)
		}
		got, err := easy(body)
		if err != nil {
			t.Fatalf("%s: easyjson decoding: %v", name, err)
		}
		if reflect.ValueOf(want).Len() == 0 {
			t.Fatalf("%s: nothing decoded", name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the two decoders disagree\neasyjson: %+v\nstandard: %+v", name, got, want)
		}
	}
	for name, pair := range map[string][2]func([]byte) (any, error){
		"rfis":               both[wireRFI](),
		"drifted rfis":       both[wireRFI](),
		"submittals":         both[wireSubmittal](),
		"drifted submittals": both[wireSubmittal](),
		"contracts":          both[wireCommitment](),
		"requisitions":       both[wireRequisition](),
		"projects":           both[wireProject](),
	} {
		t.Run(name, func(t *testing.T) { agree(t, name, pair[0], pair[1]) })
	}
}

func both[W any]() [2]func([]byte) (any, error) {
	return [2]func([]byte) (any, error){
		func(b []byte) (any, error) {
			var out []W
			err := decodeBody(b, &out)
			return out, err
		},
		func(b []byte) (any, error) {
			var out []W
			if _, err := decodeListEasy(b, &out); err != nil {
				return nil, err
			}
			return out, nil
		},
	}
}

// TestEasyDecodingRejectsBrokenJSON: a truncated or malformed page is an
// error, not a partial list.
func TestEasyDecodingRejectsBrokenJSON(t *testing.T) {
	for name, body := range map[string]string{
		"truncated":        `[{"id":1,"subject":"x"`,
		"bad literal":      `[{"id":1,"draft":tru}]`,
		"trailing garbage": `[{"id":1}] {`,
		"unterminated":     `[{"id":1,"subject":"x}]`,
	} {
		var out []wireRFI
		if ok, err := decodeListEasy([]byte(body), &out); !ok || err == nil {
			t.Errorf("%s: ok=%v err=%v, want an error", name, ok, err)
		}
	}
}
