// Package tuner will turn host facts and measured runs into ranked,
// evidence-backed tuning suggestions, with the commands that apply them and
// a tuned scenario that verifies them by measurement (issue "The tuner").
// It reads results and host facts and never drives a host itself.
package tuner
