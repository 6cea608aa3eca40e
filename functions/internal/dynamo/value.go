package dynamo

import (
	"encoding/json"
	"fmt"
)

// AttributeValue is one of the AttributeValueMember types, as the SDK's
// types.AttributeValue is; each encodes as DynamoDB's JSON ({"S": "x"}).
type AttributeValue interface{ isAttributeValue() }

type (
	AttributeValueMemberS    struct{ Value string }
	AttributeValueMemberN    struct{ Value string }
	AttributeValueMemberB    struct{ Value []byte }
	AttributeValueMemberSS   struct{ Value []string }
	AttributeValueMemberNS   struct{ Value []string }
	AttributeValueMemberBS   struct{ Value [][]byte }
	AttributeValueMemberBOOL struct{ Value bool }
	AttributeValueMemberNULL struct{ Value bool }
	AttributeValueMemberL    struct{ Value []AttributeValue }
	AttributeValueMemberM    struct{ Value map[string]AttributeValue }
)

func (*AttributeValueMemberS) isAttributeValue()    {}
func (*AttributeValueMemberN) isAttributeValue()    {}
func (*AttributeValueMemberB) isAttributeValue()    {}
func (*AttributeValueMemberSS) isAttributeValue()   {}
func (*AttributeValueMemberNS) isAttributeValue()   {}
func (*AttributeValueMemberBS) isAttributeValue()   {}
func (*AttributeValueMemberBOOL) isAttributeValue() {}
func (*AttributeValueMemberNULL) isAttributeValue() {}
func (*AttributeValueMemberL) isAttributeValue()    {}
func (*AttributeValueMemberM) isAttributeValue()    {}

func (v *AttributeValueMemberS) MarshalJSON() ([]byte, error) { return tagged("S", v.Value) }
func (v *AttributeValueMemberN) MarshalJSON() ([]byte, error) { return tagged("N", v.Value) }
func (v *AttributeValueMemberB) MarshalJSON() ([]byte, error) { return tagged("B", v.Value) }
func (v *AttributeValueMemberSS) MarshalJSON() ([]byte, error) {
	return tagged("SS", v.Value)
}
func (v *AttributeValueMemberNS) MarshalJSON() ([]byte, error) {
	return tagged("NS", v.Value)
}
func (v *AttributeValueMemberBS) MarshalJSON() ([]byte, error) {
	return tagged("BS", v.Value)
}
func (v *AttributeValueMemberBOOL) MarshalJSON() ([]byte, error) {
	return tagged("BOOL", v.Value)
}
func (v *AttributeValueMemberNULL) MarshalJSON() ([]byte, error) {
	return tagged("NULL", v.Value)
}
func (v *AttributeValueMemberL) MarshalJSON() ([]byte, error) { return tagged("L", v.Value) }
func (v *AttributeValueMemberM) MarshalJSON() ([]byte, error) { return tagged("M", v.Value) }

func tagged(tag string, v any) ([]byte, error) { return json.Marshal(map[string]any{tag: v}) }

// decodeValue decodes DynamoDB's JSON of one value.
func decodeValue(b []byte) (AttributeValue, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("attribute value: %w", err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("attribute value with %d members, want 1", len(m))
	}
	for tag, raw := range m {
		var err error
		switch tag {
		case "S":
			v := &AttributeValueMemberS{}
			err = json.Unmarshal(raw, &v.Value)
			return v, err
		case "N":
			v := &AttributeValueMemberN{}
			err = json.Unmarshal(raw, &v.Value)
			return v, err
		case "B":
			v := &AttributeValueMemberB{}
			err = json.Unmarshal(raw, &v.Value)
			return v, err
		case "SS":
			v := &AttributeValueMemberSS{}
			err = json.Unmarshal(raw, &v.Value)
			return v, err
		case "NS":
			v := &AttributeValueMemberNS{}
			err = json.Unmarshal(raw, &v.Value)
			return v, err
		case "BS":
			v := &AttributeValueMemberBS{}
			err = json.Unmarshal(raw, &v.Value)
			return v, err
		case "BOOL":
			v := &AttributeValueMemberBOOL{}
			err = json.Unmarshal(raw, &v.Value)
			return v, err
		case "NULL":
			v := &AttributeValueMemberNULL{}
			err = json.Unmarshal(raw, &v.Value)
			return v, err
		case "L":
			var raws []json.RawMessage
			if err := json.Unmarshal(raw, &raws); err != nil {
				return nil, err
			}
			v := &AttributeValueMemberL{Value: make([]AttributeValue, len(raws))}
			for i, r := range raws {
				if v.Value[i], err = decodeValue(r); err != nil {
					return nil, err
				}
			}
			return v, nil
		case "M":
			m, err := decodeMap(raw)
			return &AttributeValueMemberM{Value: m}, err
		default:
			return nil, fmt.Errorf("attribute value of unknown type %q", tag)
		}
	}
	panic("unreachable")
}

func decodeMap(b []byte) (map[string]AttributeValue, error) {
	var raws map[string]json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil || raws == nil {
		return nil, err
	}
	m := make(map[string]AttributeValue, len(raws))
	for k, r := range raws {
		v, err := decodeValue(r)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		m[k] = v
	}
	return m, nil
}

// item is an item as DynamoDB's JSON, for decoding answers.
type item map[string]AttributeValue

func (it *item) UnmarshalJSON(b []byte) error {
	m, err := decodeMap(b)
	*it = m
	return err
}

// The outputs decode their items through item.

func (o *GetItemOutput) UnmarshalJSON(b []byte) error {
	var w struct{ Item item }
	err := json.Unmarshal(b, &w)
	o.Item = w.Item
	return err
}

func (o *PutItemOutput) UnmarshalJSON(b []byte) error {
	var w struct{ Attributes item }
	err := json.Unmarshal(b, &w)
	o.Attributes = w.Attributes
	return err
}

func (o *UpdateItemOutput) UnmarshalJSON(b []byte) error {
	var w struct{ Attributes item }
	err := json.Unmarshal(b, &w)
	o.Attributes = w.Attributes
	return err
}

func (o *DeleteItemOutput) UnmarshalJSON(b []byte) error {
	var w struct{ Attributes item }
	err := json.Unmarshal(b, &w)
	o.Attributes = w.Attributes
	return err
}

func (o *QueryOutput) UnmarshalJSON(b []byte) error {
	var w struct {
		Items            []item
		LastEvaluatedKey item
		Count            int32
	}
	err := json.Unmarshal(b, &w)
	o.Items = make([]map[string]AttributeValue, len(w.Items))
	for i, it := range w.Items {
		o.Items[i] = it
	}
	o.LastEvaluatedKey, o.Count = w.LastEvaluatedKey, w.Count
	return err
}
