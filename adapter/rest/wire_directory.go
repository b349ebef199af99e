package rest

import (
	"strings"

	"procoregraph/adapter"
)

type wireCompany struct {
	ID       flexID     `json:"id"`
	Name     flexString `json:"name"`
	IsActive flexBool   `json:"is_active"`
}

func (w wireCompany) company() adapter.Company {
	return adapter.Company{ID: int64(w.ID), Name: string(w.Name), IsActive: w.IsActive.or(true)}
}

//easyjson:json
type wireProject struct {
	ID             flexID      `json:"id"`
	CompanyID      flexID      `json:"company_id"`
	Company        *wireNamed  `json:"company"`
	Name           flexString  `json:"name"`
	DisplayName    flexString  `json:"display_name"`
	ProjectNumber  flexString  `json:"project_number"`
	Address        flexString  `json:"address"`
	City           flexString  `json:"city"`
	StateCode      flexString  `json:"state_code"`
	CountryCode    flexString  `json:"country_code"`
	Zip            flexString  `json:"zip"`
	TimeZone       flexString  `json:"time_zone"`
	Active         flexBool    `json:"active"`
	Stage          *wireNamed  `json:"stage"`
	ProjectStage   *wireNamed  `json:"project_stage"`
	StartDate      flexDate    `json:"start_date"`
	CompletionDate flexDate    `json:"completion_date"`
	TotalValue     flexDecimal `json:"total_value"`
	CreatedAt      flexTime    `json:"created_at"`
	UpdatedAt      flexTime    `json:"updated_at"`
}

func (w wireProject) project(companyID int64) adapter.Project {
	if id := int64(w.CompanyID); id != 0 {
		companyID = id
	} else if c := w.Company.id(); c != nil {
		companyID = *c
	}
	return adapter.Project{
		ID:             int64(w.ID),
		CompanyID:      companyID,
		Name:           string(w.Name),
		DisplayName:    firstNonEmpty(string(w.DisplayName), string(w.Name)),
		ProjectNumber:  string(w.ProjectNumber),
		Address:        string(w.Address),
		City:           string(w.City),
		StateCode:      string(w.StateCode),
		CountryCode:    string(w.CountryCode),
		Zip:            string(w.Zip),
		TimeZone:       string(w.TimeZone),
		Active:         w.Active.or(true),
		Stage:          firstNonEmpty(w.Stage.name(), w.ProjectStage.name()),
		StartDate:      w.StartDate.ptr(),
		CompletionDate: w.CompletionDate.ptr(),
		TotalValue:     w.TotalValue.ptr(),
		CreatedAt:      w.CreatedAt.V,
		UpdatedAt:      w.UpdatedAt.V,
	}
}

// wireUser is a directory user. It repeats wirePerson's fields rather than
// embedding it, because an embedded UnmarshalJSON would swallow the object.
type wireUser struct {
	ID           flexID     `json:"id"`
	Login        flexString `json:"login"`
	Name         flexString `json:"name"`
	Email        flexString `json:"email"`
	EmailAddress flexString `json:"email_address"`
	FirstName    flexString `json:"first_name"`
	LastName     flexString `json:"last_name"`
	JobTitle     flexString `json:"job_title"`
	IsActive     flexBool   `json:"is_active"`
	Vendor       *wireNamed `json:"vendor"`
	VendorID     flexID     `json:"vendor_id"`
	UpdatedAt    flexTime   `json:"updated_at"`
}

func (w wireUser) user() adapter.User {
	p := wirePerson{ID: w.ID, Login: w.Login, Name: w.Name, Email: w.Email, EmailAddress: w.EmailAddress,
		FirstName: w.FirstName, LastName: w.LastName}.person()
	vendor := w.VendorID.ptr()
	if vendor == nil {
		vendor = w.Vendor.id()
	}
	return adapter.User{
		ID:        p.ID,
		Login:     p.Login,
		Name:      p.Name,
		FirstName: string(w.FirstName),
		LastName:  string(w.LastName),
		JobTitle:  string(w.JobTitle),
		IsActive:  w.IsActive.or(true),
		VendorID:  vendor,
		UpdatedAt: w.UpdatedAt.V,
	}
}

type wireVendor struct {
	ID              flexID     `json:"id"`
	Name            flexString `json:"name"`
	Company         flexString `json:"company"`
	AbbreviatedName flexString `json:"abbreviated_name"`
	TradeName       flexString `json:"trade_name"`
	City            flexString `json:"city"`
	StateCode       flexString `json:"state_code"`
	EmailAddress    flexString `json:"email_address"`
	BusinessPhone   flexString `json:"business_phone"`
	IsActive        flexBool   `json:"is_active"`
	UpdatedAt       flexTime   `json:"updated_at"`
}

func (w wireVendor) vendor() adapter.Vendor {
	return adapter.Vendor{
		ID:              int64(w.ID),
		Name:            firstNonEmpty(string(w.Name), string(w.Company)),
		AbbreviatedName: string(w.AbbreviatedName),
		TradeName:       string(w.TradeName),
		City:            string(w.City),
		StateCode:       string(w.StateCode),
		EmailAddress:    string(w.EmailAddress),
		BusinessPhone:   string(w.BusinessPhone),
		IsActive:        w.IsActive.or(true),
		UpdatedAt:       w.UpdatedAt.V,
	}
}

func vendorPtr(w *wireVendor) *adapter.Vendor {
	if w == nil || w.ID == 0 && strings.TrimSpace(string(w.Name)+string(w.Company)) == "" {
		return nil
	}
	v := w.vendor()
	return &v
}
