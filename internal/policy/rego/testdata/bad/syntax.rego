package bad

deny contains msg if {
	msg := "x"
	input.a ==
}
