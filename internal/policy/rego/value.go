package rego

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/open-policy-agent/opa/v1/ast"
)

// toValue converts a Go value to the Rego value its JSON encoding
// (encoding/json, tags and omitempty honoured) would parse to, without
// encoding it: the JSON round trip costs more than evaluating the
// example policies. TestToValueMatchesJSON holds it to that.
func toValue(v reflect.Value) (ast.Value, error) {
	c := converter{seen: map[uintptr]ast.Value{}}
	return c.value(v)
}

// converter converts one value; seen shares the value of a struct
// pointer met twice (a Dockerfile's instructions are listed by stage
// and in file order). Rego values are immutable, so sharing is safe.
type converter struct {
	seen map[uintptr]ast.Value
}

func (c *converter) value(v reflect.Value) (ast.Value, error) {
	if !v.IsValid() {
		return ast.NullValue, nil
	}
	if v.Type() == severityType {
		return ast.String(finding.Severity(v.Int()).String()), nil
	}
	if v.Type().Implements(marshalerType) && !(v.Kind() == reflect.Pointer && v.IsNil()) {
		return marshaled(v.Interface())
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		if v.Elem().Kind() != reflect.Struct {
			return c.value(v.Elem())
		}
		if x, ok := c.seen[v.Pointer()]; ok {
			return x, nil
		}
		x, err := c.value(v.Elem())
		if err == nil {
			c.seen[v.Pointer()] = x
		}
		return x, err
	case reflect.Interface:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		return c.value(v.Elem())
	case reflect.Bool:
		return ast.Boolean(v.Bool()), nil
	case reflect.String:
		return ast.String(v.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return ast.Number(json.Number(fmt.Sprint(v.Int()))), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return ast.Number(json.Number(fmt.Sprint(v.Uint()))), nil
	case reflect.Float32, reflect.Float64:
		return marshaled(v.Interface()) // encoding/json's float spelling
	case reflect.Slice:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		fallthrough
	case reflect.Array:
		terms := make([]*ast.Term, v.Len())
		for i := range terms {
			x, err := c.value(v.Index(i))
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(x)
		}
		return ast.NewArray(terms...), nil
	case reflect.Map:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return marshaled(v.Interface())
		}
		obj := ast.NewObject()
		it := v.MapRange()
		for it.Next() {
			x, err := c.value(it.Value())
			if err != nil {
				return nil, err
			}
			obj.Insert(ast.StringTerm(it.Key().String()), ast.NewTerm(x))
		}
		return obj, nil
	case reflect.Struct:
		obj := ast.NewObject()
		for _, f := range structFields(v.Type()) {
			fv := v.FieldByIndex(f.index)
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			x, err := c.value(fv)
			if err != nil {
				return nil, err
			}
			obj.Insert(ast.StringTerm(f.name), ast.NewTerm(x))
		}
		return obj, nil
	}
	return marshaled(v.Interface())
}

var (
	marshalerType = reflect.TypeFor[json.Marshaler]()
	severityType  = reflect.TypeFor[finding.Severity]()
)

func marshaled(x any) (ast.Value, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return ast.ValueFromReader(strings.NewReader(string(b)))
}

type field struct {
	name      string
	index     []int
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type → []field

// structFields lists t's JSON fields (exported, not `json:"-"`); embedded
// structs without a tag are flattened as encoding/json does (the input
// types have no name clashes between levels).
func structFields(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			for _, sub := range structFields(sf.Type) {
				sub.index = append([]int{i}, sub.index...)
				fs = append(fs, sub)
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fs = append(fs, field{name: name, index: []int{i}, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	fieldCache.Store(t, fs)
	return fs
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}
