package wggo

// RebindFromHere takes device i down and up again from the calling
// goroutine, as wireguard-go does on TUN link events.
func (e *Engine) RebindFromHere(i int) error {
	d := e.shell.Each()[i]
	if err := d.Down(); err != nil {
		return err
	}
	return d.Up()
}
