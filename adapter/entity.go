package adapter

// IsEntity marks the types that are Apollo Federation entities (they carry
// @key(fields: "id") in the schema). gqlgen's federation runtime requires the
// method; it has no behaviour.
func (User) IsEntity()       {}
func (Vendor) IsEntity()     {}
func (Company) IsEntity()    {}
func (Project) IsEntity()    {}
func (RFI) IsEntity()        {}
func (Submittal) IsEntity()  {}
func (Commitment) IsEntity() {}
func (Invoice) IsEntity()    {}
