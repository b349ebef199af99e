package data

// Word pools for realistic construction data. Only ever indexed by the seeded
// PRNG, so output depends on the seed alone.

var firstNames = []string{"James", "Maria", "Robert", "Linda", "Michael", "Patricia", "David", "Jennifer", "Carlos", "Aisha", "Wei", "Priya", "Thomas", "Sarah", "Daniel", "Emily", "Jose", "Fatima", "Kevin", "Rachel", "Luis", "Hannah", "Andre", "Grace", "Samuel", "Olivia", "Marcus", "Chloe", "Ethan", "Sofia", "Nathan", "Isabel", "Omar", "Megan", "Tyler", "Yuki", "Brian", "Natalie", "Victor", "Leah"}

var lastNames = []string{"Anderson", "Martinez", "Thompson", "Garcia", "Robinson", "Clark", "Rodriguez", "Lewis", "Walker", "Hall", "Young", "Nguyen", "Patel", "Kim", "Okafor", "Schmidt", "Rossi", "Haddad", "Kowalski", "Murphy", "Fischer", "Silva", "Chen", "Johansson", "Brooks", "Reyes", "Foster", "Bennett", "Hughes", "Coleman", "Price", "Sanders", "Barnes", "Ross", "Henderson", "Jenkins", "Perry", "Powell", "Long", "Flores"}

var jobTitles = []string{"Project Manager", "Project Engineer", "Superintendent", "Assistant Superintendent", "Project Executive", "Estimator", "Field Engineer", "Safety Manager", "Quality Control Manager", "Project Coordinator", "Architect", "Structural Engineer", "MEP Coordinator", "Owner's Representative", "Foreman", "Accountant"}

var companyFirst = []string{"Summit Ridge", "Ironclad", "Bayline", "Granite Peak", "Northshore", "Redwood", "Keystone", "Blue Harbor", "Cornerstone", "Silverline", "Prairie Wind", "Lakeside", "Copperfield", "Eastgate", "Highmark"}

var companySecond = []string{"Builders", "Construction", "General Contractors", "Constructors", "Building Group", "Construction Co."}

var tradeVendors = []struct{ Trade, Suffix string }{
	{"Concrete", "Concrete Inc."}, {"Electrical", "Electric LLC"}, {"Plumbing", "Plumbing & Mechanical"},
	{"HVAC", "Air Systems"}, {"Drywall", "Drywall & Acoustics"}, {"Roofing", "Roofing Co."},
	{"Steel", "Steel Erectors"}, {"Glazing", "Glass & Glazing"}, {"Masonry", "Masonry Works"},
	{"Earthwork", "Excavating"}, {"Fire Protection", "Fire Protection"}, {"Painting", "Painting Contractors"},
	{"Flooring", "Floor Covering"}, {"Elevators", "Elevator Co."}, {"Landscaping", "Landscape Group"},
	{"Millwork", "Architectural Millwork"}, {"Waterproofing", "Waterproofing Systems"}, {"Doors & Hardware", "Door & Hardware Supply"},
}

var vendorPrefix = []string{"Apex", "Pioneer", "Allied", "Precision", "Metro", "Frontier", "Reliable", "Titan", "Coastal", "Heritage", "Summit", "Liberty", "Vanguard", "Evergreen", "Quality"}

var cities = []struct{ City, State, Zip, County, TZ, Lat, Lng string }{
	{"Denver", "CO", "80202", "Denver", "Mountain Time (US & Canada)", "39.7392", "-104.9903"},
	{"Austin", "TX", "78701", "Travis", "Central Time (US & Canada)", "30.2672", "-97.7431"},
	{"Seattle", "WA", "98101", "King", "Pacific Time (US & Canada)", "47.6062", "-122.3321"},
	{"Charlotte", "NC", "28202", "Mecklenburg", "Eastern Time (US & Canada)", "35.2271", "-80.8431"},
	{"Phoenix", "AZ", "85004", "Maricopa", "Arizona", "33.4484", "-112.0740"},
	{"Columbus", "OH", "43215", "Franklin", "Eastern Time (US & Canada)", "39.9612", "-82.9988"},
	{"Nashville", "TN", "37203", "Davidson", "Central Time (US & Canada)", "36.1627", "-86.7816"},
	{"Sacramento", "CA", "95814", "Sacramento", "Pacific Time (US & Canada)", "38.5816", "-121.4944"},
	{"Minneapolis", "MN", "55401", "Hennepin", "Central Time (US & Canada)", "44.9778", "-93.2650"},
	{"Tampa", "FL", "33602", "Hillsborough", "Eastern Time (US & Canada)", "27.9506", "-82.4572"},
	{"Salt Lake City", "UT", "84101", "Salt Lake", "Mountain Time (US & Canada)", "40.7608", "-111.8910"},
	{"Boston", "MA", "02110", "Suffolk", "Eastern Time (US & Canada)", "42.3601", "-71.0589"},
}

var streets = []string{"Main St", "Market St", "Oak Ave", "Industrial Pkwy", "Commerce Dr", "Riverside Blvd", "Broadway", "Elm St", "Harbor Way", "Technology Dr", "Park Ave", "Lincoln Ave"}

var projectPlaces = []string{"Riverside", "Northgate", "Cedar Hills", "Harbor Point", "Westfield", "Union Station", "Lakeview", "Mill Creek", "Southpark", "Eastside", "Pinecrest", "Midtown", "Old Town", "Bridgewater", "Meadowbrook"}

var projectKinds = []struct{ Name, Type string }{
	{"Medical Office Building", "Healthcare"}, {"Elementary School", "Education"}, {"Mixed-Use Residences", "Multifamily"},
	{"Distribution Center", "Industrial"}, {"Parking Structure", "Civil"}, {"Hotel Renovation", "Hospitality"},
	{"Office Tower", "Commercial"}, {"Library Expansion", "Public"}, {"Data Center Phase 2", "Mission Critical"},
	{"Senior Living Community", "Multifamily"}, {"Fire Station No. 7", "Public"}, {"Research Lab Fit-Out", "Life Sciences"},
	{"Retail Center", "Retail"}, {"Student Housing", "Education"}, {"Wastewater Plant Upgrade", "Civil"},
}

var projectStages = []string{"Pre-Construction", "Course of Construction", "Course of Construction", "Course of Construction", "Post-Construction", "Warranty"}

// costCatalog is a slice of CSI divisions, each with some child codes.
var costCatalog = []struct {
	Div, DivName string
	Codes        [][2]string
}{
	{"01", "General Requirements", [][2]string{{"100", "General Conditions"}, {"500", "Temporary Facilities"}, {"700", "Final Cleaning"}}},
	{"03", "Concrete", [][2]string{{"100", "Concrete Forming"}, {"200", "Concrete Reinforcing"}, {"300", "Cast-in-Place Concrete"}}},
	{"04", "Masonry", [][2]string{{"200", "Unit Masonry"}}},
	{"05", "Metals", [][2]string{{"100", "Structural Steel Framing"}, {"500", "Metal Fabrications"}}},
	{"06", "Wood, Plastics & Composites", [][2]string{{"100", "Rough Carpentry"}, {"400", "Architectural Woodwork"}}},
	{"07", "Thermal & Moisture Protection", [][2]string{{"100", "Waterproofing"}, {"500", "Membrane Roofing"}, {"900", "Joint Sealants"}}},
	{"08", "Openings", [][2]string{{"100", "Doors and Frames"}, {"400", "Storefronts and Curtain Walls"}}},
	{"09", "Finishes", [][2]string{{"200", "Gypsum Board Assemblies"}, {"600", "Flooring"}, {"900", "Painting"}}},
	{"21", "Fire Suppression", [][2]string{{"100", "Fire Sprinkler Systems"}}},
	{"22", "Plumbing", [][2]string{{"100", "Plumbing Piping"}, {"400", "Plumbing Fixtures"}}},
	{"23", "HVAC", [][2]string{{"300", "HVAC Ductwork"}, {"700", "Air Handling Units"}}},
	{"26", "Electrical", [][2]string{{"100", "Medium-Voltage Distribution"}, {"500", "Lighting"}}},
	{"31", "Earthwork", [][2]string{{"200", "Excavation and Fill"}}},
	{"32", "Exterior Improvements", [][2]string{{"100", "Paving"}, {"900", "Planting"}}},
}

var specSections = [][2]string{
	{"03 30 00", "Cast-in-Place Concrete"}, {"03 20 00", "Concrete Reinforcing"}, {"04 22 00", "Concrete Unit Masonry"},
	{"05 12 00", "Structural Steel Framing"}, {"05 50 00", "Metal Fabrications"}, {"06 40 00", "Architectural Woodwork"},
	{"07 21 00", "Thermal Insulation"}, {"07 54 00", "Thermoplastic Membrane Roofing"}, {"07 92 00", "Joint Sealants"},
	{"08 11 13", "Hollow Metal Doors and Frames"}, {"08 44 13", "Glazed Aluminum Curtain Walls"}, {"08 71 00", "Door Hardware"},
	{"09 21 16", "Gypsum Board Assemblies"}, {"09 65 00", "Resilient Flooring"}, {"09 91 00", "Painting"},
	{"21 13 13", "Wet-Pipe Sprinkler Systems"}, {"22 42 00", "Commercial Plumbing Fixtures"}, {"23 73 00", "Indoor Central-Station Air-Handling Units"},
	{"26 51 00", "Interior Lighting"}, {"32 12 16", "Asphalt Paving"},
}

var submittalTypes = []string{"Shop Drawing", "Product Data", "Sample", "Mock-Up", "Calculations", "Certificates", "O&M Manual", "Warranty", "Test Report"}

var rfiTopics = []string{"rebar spacing", "slab edge elevation", "door hardware set", "ceiling height", "duct routing", "fire rating", "anchor bolt layout", "curtain wall embed", "roof drain location", "electrical panel clearance", "sprinkler head spacing", "waterproofing detail", "stair handrail height", "grout strength", "expansion joint", "light fixture type", "paint finish", "flooring transition", "beam penetration", "footing depth"}

var rfiVerbs = []string{"Clarify", "Confirm", "Conflict in", "Missing dimension for", "Substitution request for", "Coordinate", "Discrepancy in"}

var rfiPlaces = []string{"at grid line C-4", "at Level 2 corridor", "in Stair 1", "at the north elevation", "in Mechanical Room 104", "at the loading dock", "on the roof", "in the main lobby", "at column line 7", "in Restroom 210", "at the east entrance", "in the parking level P1"}

var questionTemplates = []string{
	"Drawings %s and the specifications disagree on the %s %s. Please confirm which governs so the crew can proceed.",
	"The %s shown on sheet %s cannot be built as detailed %s because of a conflict with existing conditions. Please advise.",
	"Please provide the missing information for the %s (sheet %s) %s. Work in this area is scheduled to start next week.",
}

var answerTemplates = []string{
	"Follow the structural drawings; the architectural detail will be revised in the next bulletin.",
	"Proceed as shown in the specifications. A revised sketch (SK-%d) is attached for reference.",
	"Accepted as proposed by the subcontractor, at no change to the contract sum.",
	"Hold work in this area until the design team issues a revised detail, expected within five working days.",
	"Relocate 12 inches east to clear the beam; coordinate with the MEP subcontractor in the field.",
}

var sheets = []string{"A-201", "A-501", "S-101", "S-301", "M-201", "E-101", "P-301", "C-102", "FP-201", "A-102"}

var observationNames = []string{"Missing guardrail at floor opening", "Improper storage of flammables", "Honeycombing in column pour", "Damaged vapor barrier", "Unsecured ladder", "Incorrect fastener spacing", "Housekeeping in stairwell", "Missing firestopping at penetration", "Exposed rebar without caps", "Scaffold tag expired", "Cracked masonry unit", "Sealant joint failure"}

var punchNames = []string{"Touch-up paint at door frame", "Replace cracked ceiling tile", "Adjust door closer", "Clean window glazing", "Install missing cover plate", "Re-caulk countertop joint", "Repair drywall ding", "Replace damaged base", "Label electrical panel", "Fix dripping faucet", "Align cabinet doors", "Patch concrete spall"}

var locations = []string{"Level 1 - Lobby", "Level 2 - Corridor", "Level 3 - Unit 304", "Roof", "Parking P1", "Stair 2", "Mechanical Room", "Exterior - North"}

var manpowerNotes = []string{"Formwork and rebar for level 3 deck", "Framing and top track, east wing", "Rough-in at units 201-212", "Ductwork mains, level 2", "Curtain wall installation, south face", "Excavation for grade beams", "Drywall hanging, level 1", "Roof membrane and flashing"}

var noteComments = []string{"Concrete pour delayed one hour for truck arrival.", "Inspector approved underground plumbing.", "Owner walk-through at 2 pm; punch list started.", "High winds suspended crane picks after 11 am.", "Delivery of curtain wall units received and staged.", "Safety stand-down held at 7 am.", "Rain in the afternoon; interior work only.", "Fire marshal visit; no issues noted."}

var lineItemDescriptions = []string{"Mobilization", "Labor", "Materials", "Equipment", "Shop drawings and submittals", "Installation", "Testing and commissioning", "Supervision", "Cleanup", "Bonds and insurance"}

var budgetCategories = []string{"Labor", "Materials", "Subcontract", "Equipment", "Other"}
