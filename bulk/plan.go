package bulk

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// Page sizes of the paging rule (README "Bulk export"):
//   - a connection nested in the root one with nothing nested inside it is
//     asked for Options.PageSize items (default PageCap, the page cap);
//   - other nested connections (holding connections, or nested two deep),
//     for NestedFirst (at most PageSize);
//   - the root connection for as many items as keep one page query within
//     Options.PageItems nodes (nested first pages counted), at most PageSize.
const (
	PageCap     = 1000
	NestedFirst = 100
)

// Variables and aliases the generated page queries use. A document whose own
// variables use these names is refused.
const (
	varAfter      = "bulkAfter"
	varReps       = "bulkReps"
	aliasPage     = "_bulkPage"
	aliasNodes    = "_bulkNodes"
	aliasType     = "_bulkType"
	aliasID       = "_bulkId"
	aliasEntities = "_bulkEntities"
)

// conn is one connection of the document: the root one or one nested in the
// nodes of another.
type conn struct {
	key  string // response key (alias or name)
	path string // response keys from the root, e.g. "projects.rfis"
	// field is the document's field; its arguments other than first and
	// after are kept.
	field *ast.Field
	// nodeSel is the document's selection of a node (from nodes and
	// edges.node), without the nested connections.
	nodeSel  ast.SelectionSet
	children []*conn
	first    int
	// query reads the next page: the root query for the root connection,
	// else a lookup of the parent through _entities.
	query string
}

// plan is how a validated document is read to its end.
type plan struct {
	root  *conn
	conns []*conn // every connection, root first
}

// inputError is a refused document, reported as a userError.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func refuse(format string, a ...any) error { return &inputError{msg: fmt.Sprintf(format, a...)} }

// newPlan checks that doc (validated against schema) has the shape a bulk
// export reads (one query operation whose only root field is a connection;
// nested connections only directly in a connection's nodes, under entity
// types) and plans its page queries. pageItems bounds the nodes one page
// query may return.
func newPlan(schema *ast.Schema, doc *ast.QueryDocument, pageItems, pageSize int) (*plan, error) {
	if len(doc.Operations) != 1 {
		return nil, refuse("the document must hold exactly one operation")
	}
	op := doc.Operations[0]
	if op.Operation != ast.Query {
		return nil, refuse("a bulk export runs a query, not a %s", op.Operation)
	}
	for _, v := range op.VariableDefinitions {
		if v.Variable == varAfter || v.Variable == varReps {
			return nil, refuse("the variable name $%s is reserved for the export's paging", v.Variable)
		}
	}
	if len(op.SelectionSet) != 1 {
		return nil, refuse("the query must select exactly one root field, a connection such as projects")
	}
	rootField, ok := op.SelectionSet[0].(*ast.Field)
	if !ok || !isConnection(schema, rootField.Definition) {
		return nil, refuse("the query's root field must be a connection (with first, after, nodes and pageInfo), such as projects")
	}
	p := &plan{}
	root, err := p.connOf(schema, rootField, "", 0)
	if err != nil {
		return nil, err
	}
	p.root = root
	assignFirst(root, 0, pageSize)
	perRoot := 1 + nestedItems(root)
	if perRoot > pageItems {
		return nil, refuse("one %s node would bring %d nested items into a page; nest fewer connections (at most %d items a page)", root.path, perRoot, pageItems)
	}
	root.first = min(pageSize, max(1, pageItems/perRoot))
	vars := op.VariableDefinitions
	root.query = format(doc, &ast.OperationDefinition{Operation: ast.Query,
		VariableDefinitions: append(cloneVars(vars), &ast.VariableDefinition{Variable: varAfter, Type: ast.NamedType("String", nil)}),
		SelectionSet:        ast.SelectionSet{fieldFor(root, true)}})
	for _, c := range p.conns[1:] {
		c.query = format(doc, &ast.OperationDefinition{Operation: ast.Query,
			VariableDefinitions: append(cloneVars(vars),
				&ast.VariableDefinition{Variable: varAfter, Type: ast.NamedType("String", nil)},
				&ast.VariableDefinition{Variable: varReps, Type: ast.NonNullListType(ast.NonNullNamedType("_Any", nil), nil)}),
			SelectionSet: ast.SelectionSet{&ast.Field{Alias: aliasEntities, Name: "_entities",
				Arguments: ast.ArgumentList{{Name: "representations", Value: &ast.Value{Kind: ast.Variable, Raw: varReps}}},
				SelectionSet: ast.SelectionSet{&ast.InlineFragment{TypeCondition: parentType(c),
					SelectionSet: ast.SelectionSet{fieldFor(c, true)}}}}}})
	}
	return p, nil
}

// connOf reads a connection field of the document.
func (p *plan) connOf(schema *ast.Schema, f *ast.Field, parentPath string, depth int) (*conn, error) {
	key := f.Alias
	if key == "" {
		key = f.Name
	}
	c := &conn{key: key, field: f, path: key}
	if parentPath != "" {
		c.path = parentPath + "." + key
	}
	p.conns = append(p.conns, c)
	nodeType := schema.Types[f.Definition.Type.Name()].Fields.ForName("nodes").Type.Name()
	if def := schema.Types[nodeType]; def == nil || def.Fields.ForName("id") == nil {
		return nil, refuse("the nodes of %s have no id, which the export's rows need", c.path)
	}
	for _, s := range f.SelectionSet {
		sf, ok := s.(*ast.Field)
		if !ok {
			return nil, refuse("select nodes or edges { node } of %s directly, without fragments", c.path)
		}
		switch sf.Name {
		case "nodes":
			c.nodeSel = append(c.nodeSel, sf.SelectionSet...)
		case "edges":
			for _, es := range sf.SelectionSet {
				if ef, ok := es.(*ast.Field); ok && ef.Name == "node" {
					c.nodeSel = append(c.nodeSel, ef.SelectionSet...)
				} else if !ok {
					return nil, refuse("select edges { node } of %s directly, without fragments", c.path)
				}
			}
		}
	}
	var rest ast.SelectionSet
	for _, s := range c.nodeSel {
		sf, ok := s.(*ast.Field)
		if ok && isConnection(schema, sf.Definition) {
			if !isEntity(schema, nodeType) {
				return nil, refuse("%s nests a connection, but its nodes (%s) cannot be looked up by id to page it", c.path, nodeType)
			}
			child, err := p.connOf(schema, sf, c.path, depth+1)
			if err != nil {
				return nil, err
			}
			c.children = append(c.children, child)
			continue
		}
		if path, found := findConnection(schema, s, 0); found {
			return nil, refuse("%s selects the connection %s outside a connection's nodes; select nested connections directly in nodes", c.path, path)
		}
		rest = append(rest, s)
	}
	c.nodeSel = rest
	return c, nil
}

// parentType is the type holding nested connection c, for the _entities
// lookup of its next pages.
func parentType(c *conn) string { return c.field.ObjectDefinition.Name }

// assignFirst sets the page size of every nested connection (the paging rule
// on PageCap and NestedFirst).
func assignFirst(c *conn, depth, pageSize int) {
	if depth > 0 {
		c.first = pageSize
		if len(c.children) > 0 || depth > 1 {
			c.first = min(pageSize, NestedFirst)
		}
	}
	for _, ch := range c.children {
		assignFirst(ch, depth+1, pageSize)
	}
}

// nestedItems is how many nested nodes one node of c may bring into a page.
func nestedItems(c *conn) int {
	n := 0
	for _, ch := range c.children {
		n += ch.first * (1 + nestedItems(ch))
	}
	return n
}

// findConnection reports a connection field anywhere under s (fragments
// included), by its path.
func findConnection(schema *ast.Schema, s ast.Selection, depth int) (string, bool) {
	if depth > 64 {
		return "", false
	}
	var set ast.SelectionSet
	name := ""
	switch x := s.(type) {
	case *ast.Field:
		if isConnection(schema, x.Definition) {
			return x.Name, true
		}
		set, name = x.SelectionSet, x.Name
	case *ast.InlineFragment:
		set = x.SelectionSet
	case *ast.FragmentSpread:
		if x.Definition != nil {
			set = x.Definition.SelectionSet
		}
	}
	for _, c := range set {
		if p, ok := findConnection(schema, c, depth+1); ok {
			if name != "" {
				p = name + "." + p
			}
			return p, true
		}
	}
	return "", false
}

// isConnection reports whether def is a Relay connection field of this
// schema: an object type with nodes and pageInfo, arguments first and after.
func isConnection(schema *ast.Schema, def *ast.FieldDefinition) bool {
	if def == nil || def.Type.Elem != nil || def.Arguments.ForName("first") == nil || def.Arguments.ForName("after") == nil {
		return false
	}
	t := schema.Types[def.Type.Name()]
	return t != nil && t.Kind == ast.Object && t.Fields.ForName("nodes") != nil && t.Fields.ForName("pageInfo") != nil
}

// isEntity reports whether typ can be looked up through _entities.
func isEntity(schema *ast.Schema, typ string) bool {
	u := schema.Types["_Entity"]
	if u == nil {
		return false
	}
	for _, t := range u.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// fieldFor is c's field in a page query: the document's arguments but first
// and after, first set by the plan, after from $bulkAfter when withAfter; the
// page info and the nodes (with their type and id) under reserved aliases,
// nested connections asked for their first page.
func fieldFor(c *conn, withAfter bool) *ast.Field {
	var args ast.ArgumentList
	for _, a := range c.field.Arguments {
		if a.Name != "first" && a.Name != "after" {
			args = append(args, a)
		}
	}
	args = append(args, &ast.Argument{Name: "first", Value: &ast.Value{Kind: ast.IntValue, Raw: strconv.Itoa(c.first)}})
	if withAfter {
		args = append(args, &ast.Argument{Name: "after", Value: &ast.Value{Kind: ast.Variable, Raw: varAfter}})
	}
	nodes := ast.SelectionSet{&ast.Field{Alias: aliasType, Name: "__typename"}, &ast.Field{Alias: aliasID, Name: "id"}}
	nodes = append(nodes, c.nodeSel...)
	for _, ch := range c.children {
		nodes = append(nodes, fieldFor(ch, false))
	}
	return &ast.Field{Alias: c.key, Name: c.field.Name, Arguments: args, Directives: c.field.Directives,
		SelectionSet: ast.SelectionSet{
			&ast.Field{Alias: aliasPage, Name: "pageInfo", SelectionSet: ast.SelectionSet{
				&ast.Field{Name: "hasNextPage"}, &ast.Field{Name: "endCursor"}}},
			&ast.Field{Alias: aliasNodes, Name: "nodes", SelectionSet: nodes},
		}}
}

func cloneVars(v ast.VariableDefinitionList) ast.VariableDefinitionList {
	return append(ast.VariableDefinitionList(nil), v...)
}

// format prints op with every fragment of doc (the executor that runs page
// queries does not refuse unused fragments or variables).
func format(doc *ast.QueryDocument, op *ast.OperationDefinition) string {
	var b strings.Builder
	formatter.NewFormatter(&b, formatter.WithIndent(" ")).FormatQueryDocument(&ast.QueryDocument{
		Operations: ast.OperationList{op}, Fragments: doc.Fragments})
	return b.String()
}
