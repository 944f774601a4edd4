package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/daemon"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags("run", runHelp, args, stdout, withConfig, withDev)
	if err != nil {
		return err
	}
	cfg, _, err := loadConfig(f)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return usageErrorf("%v", err)
	}
	defer log.Sync() //nolint:errcheck // stderr may not sync
	err = daemon.Run(ctx, cfg, log, daemon.Options{Version: version, Commit: commit})
	if errors.Is(err, daemon.ErrConfig) {
		return usageError{err}
	}
	return err
}

func newLogger(c config.Log, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeDuration = zapcore.StringDurationEncoder
	var encoder zapcore.Encoder
	if c.Format == "console" {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	} else {
		encoder = zapcore.NewJSONEncoder(enc)
	}
	return zap.New(zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(w)), level)), nil
}
