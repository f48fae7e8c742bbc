// Package archtest holds repository-wide checks of the code's shape: every
// package has exactly one package doc, and the engine and API packages import
// only what the layout allows (STYLE.md §5, §9).
package archtest
